# Sourced by the CI scripts.

# cargo_bin PACKAGE BINARY: builds a binary and prints its path, wherever cargo puts it
# (CARGO_TARGET_DIR, a cargo config's target-dir, or ./target): never a guessed ./target/debug.
cargo_bin() {
  cargo build --quiet --locked -p "$1" --bin "$2" --message-format=json-render-diagnostics |
    python3 -c '
import json, sys
name = sys.argv[1]
paths = [m["executable"] for m in map(json.loads, sys.stdin)
         if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == name]
if not paths:
    sys.exit("cargo built no binary named " + name)
print(paths[-1])
' "$2"
}
