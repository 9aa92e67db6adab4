.PHONY: demo test lint bench
demo:  ## run the product: seeded demo firms served on http://localhost:8000
	@scripts/run demo
test:  ## ruff + the whole test suite against real PostgreSQL and a real Celery worker
	@scripts/run test
lint:
	@.venv/bin/ruff check .
