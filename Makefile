# The two commands of the README. Both set up what they need on a fresh Debian machine.
.PHONY: demo test setup deb man

# Debian releases `make deb` builds for: one .deb each, in dist/ (root: mmdebstrap, nspawn).
DEB_RELEASES ?= bookworm trixie

demo:
	packaging/dev/bootstrap.sh
	rm -rf var/demo
	@echo '在另一个终端中先执行（之后告警里的 yuqingd ack 命令可原样粘贴）/ in another terminal, first:'
	@echo '  cd $(CURDIR) && export PATH="$$PWD/.venv/bin:$$PATH" YUQINGD_CONFIG="$$PWD/etc/demo/yuqingd.yaml"'
	.venv/bin/yuqingd run --config etc/demo/yuqingd.yaml

test:
	packaging/dev/bootstrap.sh test
	.venv/bin/ruff check .
	.venv/bin/mypy
	# --durations: the slowest tests, to see where the CI time goes
	.venv/bin/python -m pytest -q --durations=12
	for bench in bench/*.py; do .venv/bin/python $$bench --smoke > /dev/null || exit 1; done
	# The plugin template as an outside package: a fresh venv with the built yuqingd, its tests
	# (and a daemon end to end on loopback). A step here, not a pytest test: the suite stays one
	# environment and fast to rerun, and this runs once per make test (both CI roots).
	packaging/dev/template-check.sh

# The .deb for each release in DEB_RELEASES, built in a clean root of it, checked by lintian.
deb:
	packaging/debian/make-debs.sh dist $(DEB_RELEASES)

# The manual pages, from docs/ (pandoc).
man:
	packaging/man/build.sh build/man
