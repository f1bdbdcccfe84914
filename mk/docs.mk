# API documentation: doc-comment coverage (part of `make test`), DocC snippets, and the DocC site.
#   make check-doc-coverage   every library module's public declarations documented (thresholds below)
#   make check-doc-snippets   every ```swift block of the DocC catalogs is compiled by the tests
#   make docs                 DocC archives of the library modules in docs-build/<Module>
#                             (swift-docc-plugin; the `docc` of the Swift toolchain)
DOC_MODULES  := Tessera TesseraCluster TesseraPDE TesseraDiffusion TesseraModels TesseraDistributed
DOCS_BUILD   ?= docs-build
# Percent of public declarations with a `///` comment: at least 95 in every library module
# (TesseraCLICore and TesseraCABI included), one rule for all. Below 100 are only declarations
# the script cannot see as documented (a comment above an attribute that spans lines, or whose
# help string holds parentheses its pattern does not follow) and, until their edits land, those
# of TesseraPDE/FDSolvers.swift and TesseraDistributed/DistributedFD.swift.
# `scripts/doc-coverage --list` names them.
DOC_COVERAGE ?= --min 95

.PHONY: check-doc-coverage check-doc-snippets docs

check-doc-coverage:
	scripts/doc-coverage $(DOC_COVERAGE)

check-doc-snippets:
	scripts/check-doc-snippets

# One archive per module, for static hosting under /<Module>/ (open docs-build/<Module>/index.html
# through a web server, or `docc preview`). --disable-indexing: no IDE index needed.
docs:
	@mkdir -p $(DOCS_BUILD)
	@for m in $(DOC_MODULES); do \
	  echo "== docs: $$m"; \
	  $(SWIFT) package --allow-writing-to-directory $(DOCS_BUILD) generate-documentation \
	    --target $$m --output-path $(DOCS_BUILD)/$$m --disable-indexing \
	    --transform-for-static-hosting --hosting-base-path $$m || exit 1; \
	done
	@echo "docs: $(DOCS_BUILD)/<Module>/index.html for $(DOC_MODULES)"

EXTRA_TESTS += check-doc-coverage check-doc-snippets
