"""What every interface shares: form helpers, labels, languages, error pages and the
template helpers. Blueprints import from here, never from each other."""
