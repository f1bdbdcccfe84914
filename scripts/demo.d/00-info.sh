"$TESSERA_BIN" info
