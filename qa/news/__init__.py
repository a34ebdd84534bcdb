"""Who said what, and when: quotes and their speakers, people and their titles, dates resolved against
the article's publication date. Extracted once, at ingest, and stored in the catalog."""
