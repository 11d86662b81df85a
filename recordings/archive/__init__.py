"""The recordings archive (issue 7): catalogue, jobs that produce the renditions, delivery, access."""
