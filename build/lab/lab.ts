export async function labCommand(_args: string[]): Promise<void> {
  throw new Error('not yet');
}
