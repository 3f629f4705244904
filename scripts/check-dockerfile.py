#!/usr/bin/env python3
"""Runs the Dockerfile's build stage without Docker: a missing path fails here, not in the first
real `docker build`.

There is no Docker engine on the build machines, so this reads the first stage of the Dockerfile
(up to the second FROM), copies into an empty directory exactly the paths its COPY lines name,
and runs its RUN lines there in order, as the engine would (WORKDIR = that directory). The cargo
commands run as written; only two things differ from the image build, both for speed: the target
directory is shared between runs ($HS_DOCKER_TARGET_DIR), and the release profile is built without
optimisation (CARGO_PROFILE_RELEASE_OPT_LEVEL=0), since what is checked is that the sources, the
manifests and the lock file are all there, not the machine code.

Usage: scripts/check-dockerfile.py [Dockerfile]
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def instructions(text: str):
    """(keyword, argument) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    for line in logical:
        keyword, _, rest = line.partition(" ")
        yield keyword.upper(), rest.strip()


def main() -> int:
    repo = Path(__file__).resolve().parent.parent
    dockerfile = Path(sys.argv[1]) if len(sys.argv) > 1 else repo / "Dockerfile"
    steps = list(instructions(dockerfile.read_text()))
    froms = [i for i, (k, _) in enumerate(steps) if k == "FROM"]
    if not froms:
        print("check-dockerfile: no FROM line", file=sys.stderr)
        return 1
    end = froms[1] if len(froms) > 1 else len(steps)
    stage = steps[froms[0] + 1 : end]

    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = env.get(
        "HS_DOCKER_TARGET_DIR", str(Path.home() / ".cache" / "hs-target-docker")
    )
    env["CARGO_PROFILE_RELEASE_OPT_LEVEL"] = "0"
    env["CARGO_PROFILE_RELEASE_DEBUG"] = "false"
    env["CARGO_PROFILE_RELEASE_STRIP"] = "false"

    with tempfile.TemporaryDirectory(prefix="hs-docker-") as tmp:
        root = Path(tmp)
        workdir = root
        for keyword, arg in stage:
            if keyword == "WORKDIR":
                workdir = root / arg.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                words = [w for w in shlex.split(arg) if not w.startswith("--")]
                *sources, dest = words
                for source in sources:
                    src = repo / source
                    if not src.exists():
                        print(f"check-dockerfile: COPY {source}: no such path in the repository", file=sys.stderr)
                        return 1
                    target = workdir / dest
                    if src.is_dir():
                        shutil.copytree(src, target, dirs_exist_ok=True)
                    else:
                        if dest.endswith("/") or (len(sources) > 1):
                            target.mkdir(parents=True, exist_ok=True)
                            target = target / src.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, target)
            elif keyword == "RUN":
                print(f"check-dockerfile: RUN {arg[:100]}...", flush=True)
                done = subprocess.run(["bash", "-euo", "pipefail", "-c", arg], cwd=workdir, env=env)
                if done.returncode != 0:
                    print(f"check-dockerfile: RUN failed ({done.returncode}): {arg}", file=sys.stderr)
                    return 1
            elif keyword in ("ENV", "ARG", "LABEL", "USER", "EXPOSE", "SHELL"):
                continue
            else:
                print(f"check-dockerfile: {keyword} is not emulated; add it to {__file__}", file=sys.stderr)
                return 1
    print("check-dockerfile: the build stage builds from exactly what it copies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
