"""Many sites, one regional air picture, over NATS JetStream (issue 18).

Sites publish (:mod:`.publish`), the region consumes and fuses (:mod:`.picture`,
:mod:`.consume`); :mod:`.schema` is the wire format, :mod:`.server` starts an
embedded ``nats-server`` for the demo and the tests. See docs/region.md.
"""
