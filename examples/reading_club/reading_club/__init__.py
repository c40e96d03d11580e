"""A reading club: members review the books of the club's shelf."""
