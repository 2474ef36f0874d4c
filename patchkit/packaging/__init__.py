"""Installing a built qmail and packaging it: qmail's hierarchy as data (hier), qmail's users
(users), the install onto a live system or into a staging tree (install)."""
