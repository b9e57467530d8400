export function compileGearScan(text: string): Promise<Buffer>;
