"""The DKIM/DomainKeys side: the letter tables and render options (spec), the patch renderer,
signing keys."""
