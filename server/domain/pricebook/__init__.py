"""The price book: categories, items, regional price lists, complexity, CSV."""
