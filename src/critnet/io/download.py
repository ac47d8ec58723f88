"""One file from a public URL, checked against its SHA-256 before it gets its name (pooch).

pooch (the ``critnet[data]`` extra, imported only here and only when a download is needed)
streams into a temporary file beside the target, compares the hash and renames the file on a
match; on a mismatch it deletes the download. This module turns its exceptions into one line
naming the URL, and adds the lossless BMP → PNG step that two TNO files need.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from critnet.errors import CritnetError
from critnet.io.atomic import atomic_path
from critnet.io.checksum import file_sha256 as file_sha256  # re-exported

MISSING_POOCH = "downloading datasets needs the extra: pip install 'critnet[data]'"


class DownloadError(CritnetError):
    """A file that could not be downloaded, or whose content is not the published one."""


class UnreachableError(DownloadError):
    """The server did not answer (no network, DNS, timeout): no point trying the next file."""


def pixels_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of an image's decoded samples, with its mode and size.

    Equal for a BMP and the PNG losslessly converted from it, whatever the PNG encoder's
    compression, so a converted file is checked on what it shows rather than on its bytes.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        digest = hashlib.sha256(f"{image.mode} {image.width}x{image.height}\n".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def _pooch():
    try:
        import pooch
    except ImportError:
        raise DownloadError(MISSING_POOCH) from None
    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." lines would drown the bar
    return pooch


def require_pooch() -> None:
    """Raise the one-line :class:`DownloadError` naming the extra when pooch is missing."""
    _pooch()


def download(url: str, target: Path, sha256: str, *, retries: int = 2,
             timeout: float = 60.0) -> None:
    """Download ``url`` to ``target`` if its SHA-256 is ``sha256``; otherwise keep nothing.

    Raises:
        DownloadError: unreachable host, HTTP error, or a checksum mismatch (one line; the
            mismatching download has been deleted).
    """
    pooch = _pooch()
    import requests

    name = target.name
    fetcher = pooch.create(path=target.parent, base_url="", registry={name: f"sha256:{sha256}"},
                           urls={name: url}, retry_if_failed=retries)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
    try:
        fetcher.fetch(name, downloader=downloader)
    except ValueError as error:  # pooch: hash mismatch (the download is already deleted)
        got = re.search(r"but got (\w+)", str(error))
        raise DownloadError(f"{url}: refused, SHA-256 {got[1][:16] if got else '?'}… is not the "
                            f"published {sha256[:16]}…; the download was removed") from None
    except requests.exceptions.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise DownloadError(f"{url}: HTTP {status}") from None
    except requests.exceptions.RequestException as error:
        raise UnreachableError(f"{url}: cannot download, the server did not answer "
                               f"({type(error).__name__})") from None


def bmp_to_png(source: Path, target: Path, pixels: str) -> None:
    """Write ``source`` (a BMP) as the PNG ``target``, atomically, if its pixels hash matches.

    Raises:
        DownloadError: the decoded samples are not the registered ones (nothing is written).
    """
    from PIL import Image

    if pixels_sha256(source) != pixels:
        raise DownloadError(f"{source}: decoded pixels differ from the registered ones")
    with Image.open(source) as image, atomic_path(target) as tmp:
        image.save(tmp, format="PNG")
        if pixels_sha256(tmp) != pixels:
            raise DownloadError(f"{target}: PNG conversion changed the pixels")
