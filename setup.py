"""Build the optional C engine, ``cityid_card._native`` (the metadata is in pyproject.toml).

It links the system's OpenSSL 3 libcrypto, and libsodium when its headers are there
(Debian: libssl-dev, libsodium-dev), for Ed25519. Without a compiler or the headers the
build leaves the extension out and the package verifies in pure Python, unless
``CITYID_CARD_REQUIRE_NATIVE=1`` is set (CI): then a failed build is an error, and so
is a compiler warning. ``CITYID_CARD_SODIUM=0`` leaves libsodium out (Ed25519 then
goes through OpenSSL: to test and measure that path). ``CFLAGS``, ``LDFLAGS`` and
``CC`` are honoured as usual (``scripts/sanitize`` builds with the sanitizers that way).
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError

NATIVE = Path("src", "cityid_card", "_native")
REQUIRE_NATIVE = os.environ.get("CITYID_CARD_REQUIRE_NATIVE") == "1"
USE_SODIUM = os.environ.get("CITYID_CARD_SODIUM") != "0"
CORE_SOURCES = ["cbor.c", "claims.c", "ec.c", "engine.c", "sig.c"]
HEADERS = ["cityid.h", "cbor.h"]


class BuildNative(build_ext):
    """build_ext that looks for libsodium and sets strict warnings."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "unix":
            flags = ["-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"]
            if REQUIRE_NATIVE:
                flags.append("-Werror")
            sodium = USE_SODIUM and self._links(
                "#include <sodium.h>\nint main(void) { return sodium_init(); }\n"
            )
            for ext in self.extensions:
                ext.extra_compile_args += flags
                if sodium:
                    ext.define_macros.append(("CITYID_HAVE_SODIUM", "1"))
                    ext.libraries.append("sodium")
            print(f"cityid_card._native: Ed25519 through {'libsodium' if sodium else 'OpenSSL'}")
        super().build_extensions()

    def _links(self, program: str) -> bool:
        """True if ``program`` compiles and links against libsodium."""
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp, "probe.c")
            source.write_text(program, encoding="ascii")
            try:
                objects = self.compiler.compile([str(source)], output_dir=tmp)
                self.compiler.link_executable(
                    objects,
                    "probe",
                    output_dir=tmp,
                    libraries=["sodium"],
                    # The objects were compiled with CFLAGS, which may need LDFLAGS.
                    extra_postargs=shlex.split(os.environ.get("LDFLAGS", "")),
                )
            except (CompileError, LinkError):
                return False
        return True


def main() -> None:
    native = Extension(
        "cityid_card._native._native",
        sources=[str(NATIVE / name) for name in [*CORE_SOURCES, "module.c"]],
        depends=[str(NATIVE / name) for name in HEADERS],
        libraries=["crypto"],
        optional=not REQUIRE_NATIVE,
    )
    setup(ext_modules=[native], cmdclass={"build_ext": BuildNative})


if __name__ == "__main__":
    main()
