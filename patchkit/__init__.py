"""patchkit: reproducible, tested builds of qmail with DKIM and DomainKeys."""
