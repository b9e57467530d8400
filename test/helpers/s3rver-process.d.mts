export declare const S3RVER_ENV: Readonly<Record<string, string>>;
export declare function startS3rverProcess(
  directory: string,
  bucket: string,
): Promise<{ endpoint: string; bucket: string; pid: number | undefined; stop(): Promise<void> }>;
