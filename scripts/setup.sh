#!/usr/bin/env bash
# Installs what building and testing leadgate needs, idempotently: every tool is checked at
# its exact version first and installed only when missing. Nothing downloads a prebuilt binary
# from the internet (this machine reaches only crates.io, npm, PyPI and Debian).
#   bash scripts/setup.sh            # browser tools for the tests too
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# wasm-bindgen's CLI must equal the library in Cargo.lock, byte for byte.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

step() { printf '\n== setup: %s\n' "$*"; }
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
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

# wasm-opt from npm's binaryen 132 (Debian's binaryen 108 silently breaks the bundle), plus
# the other node tools in package-lock.json.
if ! have_version wasm-opt "version 132" || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm packages (binaryen 132 for wasm-opt)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Trunk runs cargo --offline (Trunk.toml: offline = true): fetch the crates first.
cargo fetch --locked >/dev/null 2>&1 || cargo fetch

step "tools ready: $(trunk --version), $(wasm-bindgen --version), $(wasm-opt --version | head -1), $(chromium --version 2>/dev/null | head -1)"
