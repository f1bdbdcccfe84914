"$TESSERA_BIN" bench limits --quick
