import { Alert, Button, Checkbox, Progress, Space, Table, Typography, Upload } from 'antd';
import type { UploadFile } from 'antd';
import { useState } from 'react';
import { uploadWithProgress } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { formatNumber } from '../i18n/i18n';
import { navigate } from '../router';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

interface ImportProblem {
  readonly row: number;
  readonly column: string;
  readonly value?: string;
  readonly rule: string;
  readonly message: string;
  readonly messageZh: string;
}

interface ImportReport {
  readonly outcome: 'imported' | 'partial' | 'rejected' | 'checked';
  readonly rows: number;
  readonly resources: number;
  readonly imported: number;
  readonly failedResources: number;
  readonly entries: readonly { readonly row: number; readonly entryId: string; readonly nameZh: string }[];
  readonly errors: readonly ImportProblem[];
}

/** 导入目录: an XLSX or CSV in the national template, checked row by row; the report lists every bad row. */
export function ImportPage() {
  const { t, lang } = useI18n();
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [partial, setPartial] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = async () => {
    const file = files[0]?.originFileObj;
    if (!file) return;
    setReport(null);
    setError(null);
    setProgress(0);
    const csv = file.name.toLowerCase().endsWith('.csv');
    const q = new URLSearchParams({ fileName: file.name, ...(partial ? { partial: 'true' } : {}), ...(dryRun ? { dryRun: 'true' } : {}) });
    try {
      setReport(await uploadWithProgress<ImportReport>(`/catalog/imports?${q.toString()}`, file, csv ? 'text/csv' : XLSX, (sent) => setProgress(sent)));
    } catch (e) {
      setError(e);
    } finally {
      setProgress(null);
    }
  };

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Button onClick={() => navigate('/authoring')}>{t('authoring.backToList')}</Button>
      <Typography.Title level={2}>{t('authoring.importTitle')}</Typography.Title>
      <Typography.Paragraph>{t('authoring.importIntro')}</Typography.Paragraph>
      <div data-testid="import-file">
        <Upload accept=".xlsx,.csv" beforeUpload={() => false} maxCount={1} fileList={files} onChange={({ fileList }) => setFiles(fileList)}>
          <Button>{t('authoring.chooseFile')}</Button>
        </Upload>
      </div>
      <Space>
        <Checkbox checked={partial} onChange={(e) => setPartial(e.target.checked)}>
          {t('authoring.importPartial')}
        </Checkbox>
        <Checkbox checked={dryRun} onChange={(e) => setDryRun(e.target.checked)}>
          {t('authoring.importDryRun')}
        </Checkbox>
      </Space>
      <Button type="primary" disabled={files.length === 0 || progress !== null} loading={progress !== null} onClick={() => void run()} data-testid="import-run">
        {t('authoring.importRun')}
      </Button>
      {progress !== null ? (
        <div data-testid="import-progress">
          <Progress percent={Math.round(progress * 100)} status="active" />
          <Typography.Text type="secondary">{progress < 1 ? t('authoring.importSending') : t('authoring.importChecking')}</Typography.Text>
        </div>
      ) : null}
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      {report ? (
        <Space orientation="vertical" style={{ width: '100%' }} data-testid="import-report">
          <Alert
            type={report.outcome === 'imported' ? 'success' : report.outcome === 'rejected' ? 'error' : report.outcome === 'partial' ? 'warning' : 'info'}
            showIcon
            data-testid="import-outcome"
            title={t(`authoring.importOutcome.${report.outcome}`, { rows: formatNumber(lang, report.rows), resources: formatNumber(lang, report.resources), imported: formatNumber(lang, report.imported), failed: formatNumber(lang, report.failedResources), errors: formatNumber(lang, report.errors.length) })}
          />
          {report.errors.length > 0 ? (
            <Table<ImportProblem>
              data-testid="import-errors"
              size="small"
              rowKey={(p) => `${p.row}-${p.column}-${p.rule}`}
              dataSource={[...report.errors]}
              pagination={{ pageSize: 50, hideOnSinglePage: true }}
              columns={[
                { title: t('authoring.importRow'), dataIndex: 'row', width: 80 },
                { title: t('authoring.importColumn'), dataIndex: 'column', width: 160 },
                { title: t('authoring.importValue'), dataIndex: 'value', width: 160, render: (v?: string) => v ?? '' },
                { title: t('authoring.importProblem'), render: (_, p) => (lang === 'zh-CN' ? p.messageZh : p.message) },
              ]}
            />
          ) : null}
          {report.entries.length > 0 ? (
            <Table
              data-testid="import-entries"
              size="small"
              rowKey="entryId"
              dataSource={[...report.entries]}
              pagination={{ pageSize: 50, hideOnSinglePage: true }}
              columns={[
                { title: t('authoring.importRow'), dataIndex: 'row', width: 80 },
                {
                  title: t('authoring.name'),
                  render: (_, e) => (
                    <a
                      href={`/authoring/entries/${e.entryId}/edit`}
                      onClick={(ev) => {
                        ev.preventDefault();
                        navigate(`/authoring/entries/${e.entryId}/edit`);
                      }}
                    >
                      {e.nameZh}
                    </a>
                  ),
                },
              ]}
            />
          ) : null}
        </Space>
      ) : null}
    </Space>
  );
}
