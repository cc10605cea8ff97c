// A node's health: in sync, and within reach of a quorum of voting power (GET /health).

export interface NodeHealth {
  healthy: boolean;
  details: {
    height: number;
    syncing: boolean;
    connectedValidators: number;
    reachablePower: number;
    quorumPower: number;
  };
}

/** Healthy when in sync and connected to enough validators to reach a quorum. */
export function nodeHealth(from: {
  /** The validators deciding the next height (they change with governance). */
  validators: readonly { peerId: string; power: number }[];
  quorumPower: number;
  p2p: { readonly peerId: string; connectedPeers(): readonly string[] };
  syncing: boolean;
  height: number;
}): NodeHealth {
  const connected = new Set(from.p2p.connectedPeers());
  const self = from.p2p.peerId;
  // Voting power within reach: connected validators, and this node if it is one.
  const reachablePower = from.validators
    .filter((info) => info.peerId === self || connected.has(info.peerId))
    .reduce((sum, info) => sum + info.power, 0);
  const quorumPower = from.quorumPower;
  return {
    healthy: !from.syncing && reachablePower >= quorumPower,
    details: {
      height: from.height,
      syncing: from.syncing,
      connectedValidators: from.validators.filter((info) => connected.has(info.peerId)).length,
      reachablePower,
      quorumPower,
    },
  };
}
