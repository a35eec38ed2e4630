"""Networks (encoder, decoder, RSSM, actor, critic), LOMPO and the paper's baselines: LMBRL, Offline SLAC, CQL, BC."""
