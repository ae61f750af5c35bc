"""Sample bundles and the forge that builds them."""
