"""patchkit keygen: signing keys for qmail-remote and the DNS records to publish."""

from __future__ import annotations

from pathlib import Path

import click

from patchkit import api
from patchkit.cli.common import abs_path
from patchkit.ui import emit


@click.command()
@click.argument("domain")
@click.option("--selector", default="default", show_default=True)
@click.option("--bits", type=click.Choice([str(b) for b in api.BITS]), default="2048",
              show_default=True)
@click.option("--keydir", type=abs_path(file_okay=False), default=Path("/etc/domainkeys"),
              show_default=True, help="control/dksign then names KEYDIR/%/SELECTOR.")
@click.option("--force", is_flag=True, help="Replace an existing key.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keygen(domain: str, selector: str, bits: str, keydir: Path, force: bool,
           as_json: bool) -> None:
    """Make a signing key for DOMAIN and the DNS TXT records to publish (like dknewkey)."""
    k = api.keygen(domain, selector=selector, bits=int(bits), keydir=keydir, force=force)
    if k.note:
        click.secho(k.note, fg="yellow", err=True)
    emit({"private_key": str(k.private), "public_records": str(k.public),
          "dkim_record": k.dkim_record, "domainkeys_record": k.dk_record, "note": k.note or None},
         as_json,
         lambda d: f"private key: {d['private_key']}\nDNS records: {d['public_records']}\n"
                   + k.public.read_text())


