# Short names for the everyday commands. `make help` lists them.
# Everything runs in containers except `test-all`, `lock` and `bench`, which drive Docker
# from the host.

COMPOSE := docker compose -f docker-compose.dev.yml
# The prod image's tag (make prod-build PROD_IMAGE=registry.example.com/berth:1.0).
PROD_IMAGE ?= berth:prod

.DEFAULT_GOAL := help
.PHONY: help up up-db watch down logs shell db-shell migration migrate test lint format build prod-build prod-run test-all lock bench clean rename

help: ## Show this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Start the dev stack: app on 127.0.0.1:8000, debugger on :5678, reload on save
	$(COMPOSE) up --build

up-db: ## Start the dev stack with the MariaDB service (the db profile; or COMPOSE_PROFILES=db in .env)
	COMPOSE_PROFILES=db $(COMPOSE) up --build

watch: ## The dev stack without the source mount (Docker Desktop): saves synced, new pins rebuilt
	$(COMPOSE) -f docker-compose.watch.yml up --watch --build

down: ## Stop the dev stack (the data volume stays; `make clean` removes it)
	COMPOSE_PROFILES=db $(COMPOSE) down

logs: ## Follow the dev stack's logs
	$(COMPOSE) logs -f

shell: ## A shell in a fresh dev container
	$(COMPOSE) run --rm --build web bash

db-shell: ## A MariaDB client on the dev stack's database (the db profile must be running)
	COMPOSE_PROFILES=db $(COMPOSE) exec db sh -c 'MYSQL_PWD="$$(cat "$$MARIADB_PASSWORD_FILE")" exec mariadb -u "$$MARIADB_USER" "$$MARIADB_DATABASE"'

migration: ## A new migration from the changes in app/models.py (make migration M="add tags")
	$(COMPOSE) run --rm --build web python -m app.migrate revision -m "$(M)"

migrate: ## Run the migrations on the dev stack's database (the app also runs them at start)
	$(COMPOSE) run --rm --build web python -m app.migrate upgrade

test: ## Unit tests with pytest in the dev container (args: make test ARGS="-k notes")
	$(COMPOSE) run --rm --build web pytest $(ARGS)

lint: ## ruff check and ruff format --check in the dev container
	$(COMPOSE) run --rm --build web sh -c 'ruff check . && ruff format --check .'

format: ## ruff format and ruff check --fix in the dev container
	$(COMPOSE) run --rm --build web sh -c 'ruff format . && ruff check --fix .'

build: ## Build the dev image
	$(COMPOSE) build

prod-build: ## Build the prod image as berth:prod (PLATFORMS=linux/amd64,linux/arm64: both; docs/platforms.md)
	PROD_IMAGE=$(PROD_IMAGE) scripts/prod-build

prod-run: prod-build ## Run berth:prod hardened on 127.0.0.1:8000, metrics on :9000 (data in the berth-prod-data volume)
	docker run --rm --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
	  -p 127.0.0.1:8000:8000 -p 127.0.0.1:9000:9000 -v berth-prod-data:/data $(PROD_IMAGE)

test-all: ## Every test from the host, as CI runs them: unit, images, dev loop, dev container
	scripts/test

lock: ## Re-pin requirements*.txt from requirements*.in (needs uv); a running stack applies them
	scripts/lock

bench: ## Run the benchmarks and print the table (see docs/benchmarks.md)
	scripts/bench

clean: ## Stop the dev stack and delete its data volumes (SQLite and MariaDB)
	COMPOSE_PROFILES=db $(COMPOSE) down -v

rename: ## Make this your service: rename berth everywhere (make rename NAME=notes-api)
	@test -n "$(NAME)" || { echo "make rename: give the new name, e.g. make rename NAME=notes-api" >&2; exit 2; }
	scripts/rename "$(NAME)"

# Releases: the lock files checked, and the prod image's SBOM (docs/releasing.md).
.PHONY: lock-check sbom

lock-check: ## Fail, one line per file, when a requirements*.txt is not what its .in gives (needs uv)
	scripts/lock --check

sbom: prod-build ## CycloneDX JSON of berth:prod's Python packages: sbom.cdx.json
	scripts/sbom $(PROD_IMAGE) sbom.cdx.json
