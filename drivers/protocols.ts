/** The names of the register protocols the gateway speaks (drivers/registry.ts has their entries). */
export const PROTOCOLS = ['shtrih', 'atol'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];
