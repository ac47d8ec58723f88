"""``critnet data``: the public benchmark datasets (thin; logic in critnet.io.datasets_fetch)."""

from __future__ import annotations

from pathlib import Path

import click

from critnet.io.datasets_fetch import FETCHABLE, default_root, fetch_dataset
from critnet.io.paths import data_root


@click.group("data")
def data() -> None:
    """Public datasets: download them, checked file by file."""


@data.command("fetch")
@click.argument("name", type=click.Choice(list(FETCHABLE)))
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data root to create NAME/ in [default: the data root critnet reads: "
                   "$CRITNET_DATA, else ../shared/data if present, else the user data folder].")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def fetch(name: str, root: Path | None, no_progress: bool) -> None:
    """Download dataset NAME from its public repository at a pinned commit.

    Every file is checked against the SHA-256 in the package; a wrong one is refused and
    removed. The set is assembled in DIR/.NAME.part and renamed to DIR/NAME only when
    complete, and running the command again resumes an interrupted download. Needs the
    extra: pip install 'critnet[data]'.

    \b
      roadscene  {roadscene}
      tno        {tno}

    \b
      critnet data fetch tno
      critnet data fetch roadscene --dir ~/datasets   (then: export CRITNET_DATA=~/datasets)
    """
    result = fetch_dataset(name, root, progress=not no_progress,
                           log=lambda line: click.echo(f"critnet: {line}", err=True))
    total = result.downloaded + result.present
    if result.already_complete:
        click.echo(f"{result.folder}: already complete, {total} files verified; nothing "
                   f"downloaded")
    else:
        click.echo(f"wrote {result.folder}: {total} files verified by SHA-256 "
                   f"({result.downloaded} fetched, {result.present} kept from an earlier run)")
    reads = data_root()
    where = (root or default_root()).expanduser().resolve()
    if where != reads.expanduser().resolve():
        click.echo(f"note: critnet reads datasets from {reads}; to use this one: "
                   f"export CRITNET_DATA={where}", err=True)


fetch.help = fetch.help.format(**FETCHABLE)
