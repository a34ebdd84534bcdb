"""Sources: article files, pages and feeds fetched over HTTP, syndicated copies."""
