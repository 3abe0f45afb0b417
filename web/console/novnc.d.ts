/** @novnc/novnc ships no types; web/console/rfb.ts describes what the console uses. */
declare module '@novnc/novnc' {
  const RFB: unknown;
  export default RFB;
}
