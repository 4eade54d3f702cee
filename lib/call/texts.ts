/** The original's result texts, byte for byte (clients match on them). */
export const Texts = {
  inProgress: 'In progress',
  ringingInitiator: 'Ringing initiator',
  connectedInitiator: 'Connected to initiator',
  ringingDestination: 'Ringing destination',
  connectedDestination: 'Connected to destination',
  failedInitiator: 'Failed to connect to initiator',
  failedDestination: 'Failed to connect to destination',
} as const

export function noTranslationText(initiator: string, destination: string): string {
  return `No translation rule for either initiator ${initiator} or destination ${destination}`
}

export function invalidUriText(
  ti: string,
  i: string,
  td: string,
  d: string,
  reason: string,
): string {
  return `Invalid URI format in initiator ${ti}(${i}) or destination ${td}(${d}): ${reason}`
}
