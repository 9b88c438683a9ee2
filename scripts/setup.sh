#!/usr/bin/env bash
# Installs what building and testing leadgate needs, idempotently: every tool is checked at
# its exact version first and installed only when missing. Nothing downloads a prebuilt binary
# from the internet (this machine reaches only crates.io, npm, PyPI and Debian).
#   bash scripts/setup.sh            # browser tools for the tests too
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
GECKODRIVER_VERSION=0.37.1
# wasm-bindgen's CLI must equal the library in Cargo.lock, byte for byte.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

step() { printf '\n== setup: %s\n' "$*"; }
# (Output captured first: `grep -q` closing a multi-line --version early is a pipefail error.)
have_version() {
  local out
  command -v "$1" >/dev/null 2>&1 && out=$("$1" --version 2>/dev/null) && grep -qF "$2" <<<"$out"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# The shipped wasm is built with a size-optimised std (scripts/wasm-release-env.sh): -Zbuild-std
# compiles the standard library from its source.
if ! rustup component list --installed | grep -q '^rust-src'; then
  step "rust-src (the standard library's source, for -Zbuild-std)"
  rustup component add rust-src
fi

# The end-to-end suite's three engines: Chromium + chromedriver, Firefox ESR (geckodriver
# below), WebKitGTK's WebKitWebDriver + MiniBrowser, which has no headless mode (Xvfb).
apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || apt_packages+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || apt_packages+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || apt_packages+=(xvfb)
command -v xauth >/dev/null 2>&1 || apt_packages+=(xauth)
# The relay's PostgreSQL test starts its own throwaway cluster with initdb + pg_ctl (it never
# touches the packaged cluster). `apt-get update` + install: 18.5 s measured (2 cores).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_packages+=(postgresql)
if ((${#apt_packages[@]})); then
  step "Debian packages: ${apt_packages[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if ! have_version trunk "trunk $TRUNK_VERSION"; then
  # 0.22 needs a newer rustc than this machine's 1.95. ~9 minutes cold.
  step "trunk $TRUNK_VERSION (cargo install, ~9 min)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

if ! have_version wasm-bindgen "wasm-bindgen $WASM_BINDGEN_VERSION" \
  || ! have_version wasm-bindgen-test-runner "$WASM_BINDGEN_VERSION"; then
  # Not --locked: its lock file wants a webpki-roots version the registry lacks. ~3 minutes.
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, ~3 min)"
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if ! have_version geckodriver "geckodriver $GECKODRIVER_VERSION"; then
  # Firefox's WebDriver server, built from crates.io (no prebuilt download). ~2 minutes.
  step "geckodriver $GECKODRIVER_VERSION (cargo install, ~2 min)"
  cargo install --locked geckodriver --version "$GECKODRIVER_VERSION"
fi

# cargo-fuzz for scripts/fuzz.sh (pinned there; skipped when that version is installed).
bash scripts/fuzz.sh install

# wasm-opt from npm's binaryen 132 (Debian's binaryen 108 silently breaks the bundle), plus
# the other node tools in package-lock.json.
if ! have_version wasm-opt "version 132" || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm packages (binaryen 132 for wasm-opt)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Trunk runs cargo --offline (Trunk.toml: offline = true): fetch the crates first, and those
# of the standard library that -Zbuild-std compiles (its own lock file, in rust-src).
cargo fetch --locked >/dev/null 2>&1 || cargo fetch
(source scripts/wasm-release-env.sh && cargo fetch --target wasm32-unknown-unknown >/dev/null)

step "tools ready: $(trunk --version), $(wasm-bindgen --version), $(wasm-opt --version | sed -n 1p)"
echo "browsers: $(chromium --version 2>/dev/null | sed -n 1p); $(firefox-esr --version 2>/dev/null | sed -n 1p) + $(geckodriver --version | sed -n 1p); WebKitGTK $(dpkg-query -W -f='${Version}' webkit2gtk-driver 2>/dev/null)"
