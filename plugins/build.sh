#!/usr/bin/env bash
# Builds every plugin of this workspace as a WebAssembly component (wasm32-wasip2) and copies
# them to plugins/dist/<name>.wasm. Usage: bash plugins/build.sh (from anywhere).
#
# The workspace's default target stays native, so `cargo test -p rules` runs the rule tests on
# the build machine; only this script passes --target.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

target=wasm32-wasip2
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

export CARGO_TARGET_DIR="$here/target"
cargo build --release --target "$target" --workspace --exclude rules --exclude guest --exclude glue

# Cargo names a cdylib after its crate with "-" replaced by "_"; dist/ uses the crate name.
# The shipped plugins go to dist/ (the server loads them at start); the misbehaving test
# plugins go to dist/test/, which nothing loads unless a test asks for them.
plugins=(common education health agriculture transport social-security)
test_plugins=(loop-forever memory-bomb panics huge-output wrong-interface buggy)
mkdir -p dist/test
rm -f dist/*.wasm dist/test/*.wasm
copy() {
    local src="target/$target/release/${1//-/_}.wasm"
    if [[ ! -f "$src" ]]; then
        echo "build.sh: $src was not built" >&2
        exit 1
    fi
    cp "$src" "$2/$1.wasm"
}
for name in "${plugins[@]}"; do copy "$name" dist; done
for name in "${test_plugins[@]}"; do copy "$name" dist/test; done
ls -l dist/*.wasm dist/test/*.wasm
