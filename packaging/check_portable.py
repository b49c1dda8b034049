"""Check by disassembly that a compiled library uses no instruction an ordinary x86-64 CPU lacks.

    python packaging/check_portable.py "dist/cpu/PMC Figure Search"     # the bundle's hnswlib
    python packaging/check_portable.py path/to/lib.so [...]              # any shared library

The libraries that matter are the ones compiled on the build machine (hnswlib: pip builds it with
-march=native); wheels from PyPI (torch, numpy, Qt) are built for a baseline and choose faster code at run time.
An AVX-512 instruction is EVEX-encoded: its first byte is 0x62 (never a valid opcode in 64-bit mode otherwise), and
it may use zmm registers or the k0-k7 mask registers. AVX/AVX2 instructions (VEX: 0xC4/0xC5) are counted too;
the portable hnswlib build has none, so it runs on any x86-64 CPU. Exit status 1 when AVX-512 is found.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

# objdump -d line: "  1a2b3c:\t62 f1 7c 48 10 04 24 \tvmovups (%rsp),%zmm0"
_INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t(.*)$")
_PREFIXES = {"f0", "f2", "f3", "2e", "36", "3e", "26", "64", "65", "66", "67"}
_AVX512_OPERANDS = re.compile(r"%zmm\d|\{%k[0-7]\}|%k[0-7]\b")


def _opcode_byte(raw: str) -> str:
    """The first byte after legacy prefixes (0x66, 0xF3, segment overrides …)."""
    for byte in raw.split():
        if byte not in _PREFIXES:
            return byte
    return ""


def scan(library: Path) -> dict:
    """Counts of all, AVX-512 (EVEX) and AVX/AVX2 (VEX) instructions in `library`'s executable sections."""
    if shutil.which("objdump") is None:
        raise RuntimeError("objdump not found: install binutils")
    listing = subprocess.run(
        ["objdump", "-d", "--wide", str(library)], capture_output=True, text=True, check=True
    ).stdout
    counts = {"instructions": 0, "avx512": 0, "avx": 0}
    examples: list[str] = []
    for line in listing.splitlines():
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        raw, text = match.groups()
        counts["instructions"] += 1
        opcode = _opcode_byte(raw)
        if opcode == "62" or _AVX512_OPERANDS.search(text):
            counts["avx512"] += 1
            if len(examples) < 3:
                examples.append(text.strip())
        elif opcode in ("c4", "c5"):
            counts["avx"] += 1
    return {"file": str(library), **counts, "avx512_examples": examples}


def bundle_libraries(bundle: Path) -> list[Path]:
    """The libraries compiled on the build machine that a bundle ships (today: hnswlib)."""
    return sorted(p for p in (bundle / "_internal").glob("hnswlib*") if p.suffix in (".so", ".pyd", ".dylib"))


def check_bundle(bundle: Path) -> dict:
    """{"ok": True/False, "libraries": [...]}; "ok" is None (not checked) where objdump is missing (Windows)."""
    libraries = bundle_libraries(bundle)
    if libraries and shutil.which("objdump") is None:
        return {"ok": None, "libraries": [], "skipped": "objdump not found: the disassembly check did not run"}
    results = [scan(library) for library in libraries]
    ok = bool(results) and all(r["instructions"] > 0 and r["avx512"] == 0 for r in results)
    return {"ok": ok, "libraries": results}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    failed = False
    for name in argv:
        path = Path(name)
        results = check_bundle(path)["libraries"] if path.is_dir() else [scan(path)]
        if not results:
            print(f"{path}: no hnswlib library found", file=sys.stderr)
            failed = True
        for result in results:
            verdict = "AVX-512 FOUND" if result["avx512"] else "portable (no AVX-512)"
            print(
                f"{result['file']}: {result['instructions']} instructions, {result['avx512']} AVX-512, "
                f"{result['avx']} AVX/AVX2: {verdict}"
            )
            for example in result["avx512_examples"]:
                print(f"    e.g. {example}")
            failed = failed or result["avx512"] > 0 or result["instructions"] == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
