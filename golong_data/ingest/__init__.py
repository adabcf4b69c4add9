"""Readers for books (EPUB), papers (PDF), dialogues and text, and the ingest stage."""
