// The slices of Kamiwaza's 1.2.0 schemas (openapi.json components) that aim reads. Field names are the server's.

export interface KzModelFile {
  id?: string | null;
  name: string;
  size?: number | null;
  storage_type?: string | null;
  storage_location?: string | null;
  download?: boolean | null;
  is_downloading?: boolean | null;
}

export interface KzModel {
  id?: string | null;
  name: string;
  repo_modelId?: string | null;
  m_files?: KzModelFile[];
}

export interface KzConfig {
  id: string;
  m_id: string;
  default: boolean;
}

export interface KzDownloadStatus {
  id: string;
  m_id: string;
  name: string;
  is_downloading: boolean;
  download_percentage?: number | null;
}

export interface KzDeployment {
  id: string;
  m_id: string;
  m_name?: string | null;
  status?: string;
  lb_port?: number;
  access_path?: string | null;
  canonical_model_id?: string | null;
  last_error_code?: string | null;
  last_error_message?: string | null;
  instances?: Array<{ status?: string | null }>;
  requested_at: string;
}

/** Statuses from Kamiwaza's deployment docs; anything else (UNINITIALIZED, PENDING, ...) counts as starting. */
export const FAILED_STATUSES = new Set(['FAILED', 'ERROR', 'MUST_REDOWNLOAD']);
export const GONE_STATUSES = new Set(['STOPPED']);
