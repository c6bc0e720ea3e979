"""What every interface shares: form helpers, labels, languages, error pages, the
template helpers and the upload receiver. Blueprints import from here, never from each
other."""
