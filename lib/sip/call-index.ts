/**
 * A Map whose values also count by Call-ID, so that "does anything live on
 * this Call-ID?" is O(1): the transports ask it to tell a connection that
 * carries a dialog or transaction from an idle one.
 */
export class CallIdMap<K, V extends { readonly callId: string }> extends Map<K, V> {
  private readonly counts = new Map<string, number>()

  override set(key: K, value: V): this {
    const old = super.get(key)
    if (old !== undefined) this.drop(old.callId)
    this.counts.set(value.callId, (this.counts.get(value.callId) ?? 0) + 1)
    return super.set(key, value)
  }

  override delete(key: K): boolean {
    const old = super.get(key)
    if (old === undefined) return false
    this.drop(old.callId)
    return super.delete(key)
  }

  override clear(): void {
    this.counts.clear()
    super.clear()
  }

  hasCallId(callId: string): boolean {
    return this.counts.has(callId)
  }

  private drop(callId: string): void {
    const n = (this.counts.get(callId) ?? 0) - 1
    if (n > 0) this.counts.set(callId, n)
    else this.counts.delete(callId)
  }
}
