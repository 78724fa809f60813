# The front door. `make dev` runs the platform locally; `make test` runs every test.
.PHONY: dev test lint bench build sam-build rds-ca services-stop openapi

dev:            ## local platform on :9000 (Ctrl-C stops it)
	scripts/dev.sh

test:           ## all unit and integration tests (installs and starts what they need)
	scripts/test.sh

lint:           ## fmt, clippy -D warnings, unused dependencies, cfn-lint, sam validate --lint
	scripts/lint.sh

bench:          ## provisioning benchmark (BENCH_SCALE=1000 adds the 1000-tenant scale run)
	scripts/bench.sh

build:          ## release Lambda binaries for arm64 (target/lambda/<fn>/bootstrap)
	scripts/bootstrap.sh
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --arm64 --workspace

sam-build:      ## `sam build` of infra/template.yaml: arm64, or x86_64 without the aarch64 rust target (ARCH=x86_64)
	BOOTSTRAP_SAM=1 scripts/bootstrap.sh
	scripts/sam-build.sh

rds-ca:         ## download the RDS CA bundle into the functions' layer (before `make sam-build`)
	curl --fail --silent --show-error --location --create-dirs \
	    --output infra/rds-ca/rds-ca/global-bundle.pem.part \
	    https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
	grep -q 'BEGIN CERTIFICATE' infra/rds-ca/rds-ca/global-bundle.pem.part
	mv infra/rds-ca/rds-ca/global-bundle.pem.part infra/rds-ca/rds-ca/global-bundle.pem

openapi:        ## regenerate infra/openapi/*.json from the route tables (a test checks they are current)
	cargo run --quiet -p local-platform -- openapi infra/openapi

services-stop:  ## stop PostgreSQL and the emulator if something left them running
	scripts/services.sh stop
