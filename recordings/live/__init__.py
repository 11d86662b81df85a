"""The live HTTP stream of a webinar: one encode of the live media into HLS (fMP4), in a worker process."""
