"""Members' data: a member's export of everything keyed to them, deleting one's account, and room retention."""
