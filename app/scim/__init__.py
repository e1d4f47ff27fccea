"""Pure RFC 7643/7644: schema registry, codec, validation, rendering, errors. No I/O."""
