# The two commands of the README. Both set up what they need on a fresh Debian machine.
.PHONY: demo test setup

demo:
	packaging/dev/bootstrap.sh
	rm -rf var/demo
	.venv/bin/yuqingd run --config etc/demo/yuqingd.yaml

test:
	packaging/dev/bootstrap.sh test
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -q
	for bench in bench/*.py; do .venv/bin/python $$bench --smoke > /dev/null || exit 1; done
