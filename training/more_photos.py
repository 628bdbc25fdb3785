"""Extracts the photographs listed in lists/more-photos.tsv into the cache (part of `make train`).

The packages are fetched with `apt-get download` and only the listed files are taken out of them
(`dpkg-deb --fsys-tarfile | tar -x`), so nothing is installed: kphotoalbum or python3-skimage would
otherwise pull in a desktop's worth of dependencies. gcompris-qt-data keeps its images inside Qt
resource bundles (.rcc), which `rcc_files` reads. Every photo lands in cache/more/ as NAME.png,
upright (the kphotoalbum files that are stored rotated are turned by the angle in the list's note).

    python3 more_photos.py [--cache DIR]
"""
import argparse
import io
import os
import re
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
LIST = os.path.join(HERE, "lists", "more-photos.tsv")


@dataclass
class Entry:
    package: str
    path: str              # installed path, or "BUNDLE.rcc :/inner/path"
    people: bool
    rotate: int            # degrees clockwise to show it upright
    name: str              # file name in the cache, unique

    @property
    def file(self):
        return self.path.split(" :", 1)[0]


def entries():
    out = []
    with open(LIST) as f:
        next(f)
        for line in f:
            if not line.strip():
                continue
            package, path, _size, people, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            rot = re.match(r"rotate (\d+)", note)
            if " :" in path:          # gcompris: activity and file, e.g. erase-alpaca
                parts = path.split(" :", 1)[1].split("/")
                stem = parts[parts.index("activities") + 1] + "-" + "-".join(parts[parts.index("resource") + 1:])
            else:
                stem = os.path.basename(path)
            stem = re.sub(r"[^A-Za-z0-9_]+", "-", os.path.splitext(stem)[0])
            out.append(Entry(package, path, people == "people", int(rot.group(1)) if rot else 0,
                             f"{package.split('-')[0]}-{stem}.png"))
    names = [e.name for e in out]
    assert len(set(names)) == len(names), "cache names collide"
    return out


def rcc_files(blob):
    """{path: bytes} of a Qt resource bundle (rcc format versions 1-3; zlib or stored entries)."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version == 1 else 22

    def name(offset):
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    files = {}

    def walk(index, prefix):
        at = tree + index * node_size
        name_off, flags = struct.unpack(">IH", blob[at:at + 6])
        here = prefix + "/" + name(name_off) if index else ""
        if flags & 2:                                  # a directory: its children are contiguous
            count, first = struct.unpack(">II", blob[at + 6:at + 14])
            for child in range(first, first + count):
                walk(child, here)
            return
        (offset,) = struct.unpack(">I", blob[at + 10:at + 14])
        (size,) = struct.unpack(">I", blob[data + offset:data + offset + 4])
        payload = blob[data + offset + 4:data + offset + 4 + size]
        if flags & 4:
            raise ValueError(f"{here}: zstd-compressed entry (not used by the listed bundles)")
        files[here] = zlib.decompress(payload[4:]) if flags & 1 else payload

    walk(0, "")
    return files


def extract_files(deb, paths, into):
    """Takes just `paths` out of a .deb's data archive."""
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", into] + ["." + p for p in paths], stdin=tar.stdout, check=True)
    if tar.wait() != 0:
        raise SystemExit(f"more_photos.py: dpkg-deb could not read {deb}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.environ.get("HARMONIZE_CACHE", os.path.join(HERE, "cache")))
    args = ap.parse_args()
    out_dir, deb_dir = os.path.join(args.cache, "more"), os.path.join(args.cache, "debs")
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(deb_dir, exist_ok=True)
    todo = [e for e in entries() if not os.path.exists(os.path.join(out_dir, e.name))]
    for package in sorted({e.package for e in todo}):
        mine = [e for e in todo if e.package == package]
        debs = [f for f in os.listdir(deb_dir) if f.startswith(package + "_") and f.endswith(".deb")]
        if not debs:
            subprocess.run(["apt-get", "download", "-q", package], cwd=deb_dir, check=True)
            debs = [f for f in os.listdir(deb_dir) if f.startswith(package + "_") and f.endswith(".deb")]
        with tempfile.TemporaryDirectory() as tmp:
            extract_files(os.path.join(deb_dir, sorted(debs)[-1]), sorted({e.file for e in mine}), tmp)
            bundles = {}
            for e in mine:
                local = os.path.join(tmp, e.file.lstrip("/"))
                if " :" in e.path:
                    if local not in bundles:
                        with open(local, "rb") as f:
                            bundles[local] = rcc_files(f.read())
                    blob = bundles[local][e.path.split(" :", 1)[1]]
                else:
                    with open(local, "rb") as f:
                        blob = f.read()
                im = Image.open(io.BytesIO(blob)).convert("RGB")
                if e.rotate:
                    im = im.rotate(-e.rotate, expand=True)     # PIL turns counter-clockwise
                tmp_png = os.path.join(out_dir, e.name + ".tmp.png")
                im.save(tmp_png, compress_level=1)
                os.replace(tmp_png, os.path.join(out_dir, e.name))
        print(f"{package}: {len(mine)} photos")
    print(f"more photos: {len(entries())} in {out_dir}")


if __name__ == "__main__":
    main()
