import { Alert, Button, Card, Checkbox, Descriptions, Form, Input, List, Radio, Segmented, Space, Spin, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, queryString, type Entry, type Version } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';
import { useSubmit } from '../use-submit';

const TABS = ['submitted', 'nonShared', 'overdue'] as const;
type Tab = (typeof TABS)[number];

interface NonShared {
  readonly entryId: string;
  readonly resourceCode: string;
  readonly name: string;
  readonly provider: { readonly name: string };
  readonly legalBasis: { readonly law: string; readonly article: string };
  readonly confirmedBy: string;
  readonly publishDate: string;
}

interface Finding {
  readonly rule: string;
  readonly field: string;
  readonly severity: string;
  readonly message: string;
  readonly messageZh: string;
}

interface FieldChange {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

type Open = Entry & { readonly revisionDue?: { readonly dueOn: string; readonly note: string } | null; readonly updatedAt?: string };

const link = (path: string, text: string, testId?: string) => (
  <a
    href={path}
    data-testid={testId}
    onClick={(e) => {
      e.preventDefault();
      navigate(path);
    }}
  >
    {text}
  </a>
);

/** 目录审核 (supervisor): the review queue oldest first, the published list of not-shared resources, entries overdue for revision. */
export function ReviewPage() {
  const { t, lang } = useI18n();
  const [tab, setTab] = useState<Tab>('submitted');
  const [rows, setRows] = useState<readonly (Open | NonShared)[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    setRows(null);
    setError(null);
    const l = contentLanguage(lang);
    const path = tab === 'submitted' ? `/catalog/entries${queryString({ openState: 'submitted', lang: l, limit: 200 })}` : tab === 'nonShared' ? `/catalog/non-shared${queryString({ lang: l, limit: 200 })}` : `/catalog/revision-deadlines${queryString({ overdue: true, lang: l })}`;
    api<{ items: (Open | NonShared)[] }>('GET', path)
      .then((r) => {
        if (!live) return;
        // The queue is worked oldest submission first.
        const items = tab === 'submitted' ? [...(r.items as Open[])].sort((a, b) => (a.pending?.createdAt ?? '').localeCompare(b.pending?.createdAt ?? '')) : r.items;
        setRows(items);
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [tab, lang]);
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Typography.Title level={2}>{t('review.title')}</Typography.Title>
      <Segmented value={tab} onChange={(v) => setTab(v as Tab)} options={TABS.map((x) => ({ value: x, label: t(`review.tab.${x}`) }))} aria-label={t('review.title')} />
      {error ? <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} /> : null}
      {tab === 'nonShared' ? (
        <Table<NonShared>
          data-testid="non-shared-list"
          size="small"
          rowKey="entryId"
          loading={rows === null && !error}
          dataSource={(rows ?? []) as NonShared[]}
          columns={[
            { title: t('catalog.resourceCode'), dataIndex: 'resourceCode' },
            { title: t('authoring.name'), render: (_, r) => link(`/catalog/entries/${r.entryId}`, r.name) },
            { title: t('catalog.provider'), render: (_, r) => r.provider.name },
            { title: t('entry.legalBasis'), render: (_, r) => `${r.legalBasis.law} ${r.legalBasis.article}` },
            { title: t('review.confirmedBy'), dataIndex: 'confirmedBy' },
            { title: t('catalog.publishDate'), render: (_, r) => formatDate(lang, r.publishDate) },
          ]}
        />
      ) : (
        <Table<Open>
          data-testid="review-queue"
          size="small"
          rowKey="id"
          loading={rows === null && !error}
          dataSource={(rows ?? []) as Open[]}
          columns={[
            { title: t('authoring.name'), render: (_, e) => link(tab === 'submitted' ? `/review/entries/${e.id}` : `/catalog/entries/${e.id}`, (e.pending ?? e.published)?.name ?? '—', 'review-entry') },
            { title: t('catalog.provider'), render: (_, e) => e.provider.name },
            tab === 'submitted'
              ? { title: t('review.submittedAt'), render: (_, e: Open) => (e.pending?.createdAt ? formatDateTime(lang, e.pending.createdAt) : '—') }
              : { title: t('review.revisionDue'), render: (_, e: Open) => (e.revisionDue ? <Space><Tag color="red">{formatDate(lang, e.revisionDue.dueOn)}</Tag>{e.revisionDue.note}</Space> : '—') },
            { title: t('review.kind'), render: (_, e) => (e.published ? t('review.kind.revision') : t('review.kind.new')) },
          ]}
        />
      )}
    </Space>
  );
}

/** One submitted entry for the supervisor: its content, the conformance findings, what changed since the published version; publish or return. */
export function ReviewEntryPage({ id }: { readonly id: string }) {
  const { t, lang } = useI18n();
  const [entry, setEntry] = useState<Entry | null>(null);
  const [findings, setFindings] = useState<readonly Finding[]>([]);
  const [diff, setDiff] = useState<readonly FieldChange[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    const e = await api<Entry>('GET', `/catalog/entries/${encodeURIComponent(id)}?lang=${contentLanguage(lang)}`);
    setEntry(e);
    const f = await api<{ items: Finding[] }>('GET', `/catalog/entries/${encodeURIComponent(id)}/findings`);
    setFindings(f.items);
    if (e.published && e.pending) setDiff((await api<{ items: FieldChange[] }>('GET', `/catalog/entries/${encodeURIComponent(id)}/diff?from=${e.published.number}&to=${e.pending.number}`)).items);
    else setDiff(null);
  }, [id, lang]);
  useEffect(() => {
    load().catch((e: unknown) => setError(e));
  }, [load]);
  if (error) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} />;
  if (!entry) return <Spin />;
  const v: Version | null = entry.pending;
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Button onClick={() => navigate('/review')}>{t('review.back')}</Button>
      <Typography.Title level={2} data-testid="review-title">
        {v?.name ?? entry.published?.name}
        <Tag style={{ marginLeft: 12 }} data-testid="review-state">
          {v ? t(`versionState.${v.state}`) : t(`entryStatus.${entry.status}`)}
        </Tag>
      </Typography.Title>
      {v ? (
        <Descriptions bordered size="small" column={2}>
          <Descriptions.Item label={t('catalog.provider')}>{entry.provider.name}</Descriptions.Item>
          <Descriptions.Item label={t('entry.classification')}>{v.classification?.code ?? '—'}</Descriptions.Item>
          <Descriptions.Item label={t('entry.shareType')}>{v.shareType ? t(`shareType.${v.shareType}`) : '—'}</Descriptions.Item>
          <Descriptions.Item label={t('entry.shareCondition')}>{v.shareCondition ?? (v.legalBasis ? `${v.legalBasis.law} ${v.legalBasis.article}` : '—')}</Descriptions.Item>
          <Descriptions.Item label={t('entry.abstract')} span={2}>
            {v.abstract ?? '—'}
          </Descriptions.Item>
          <Descriptions.Item label={t('review.items')} span={2}>
            {v.dataItems.map((i) => (
              <Tag key={i.nameZh}>
                {i.name} · {i.sqlType}
                {i.key ? ` · ${t('item.key')}` : ''}
                {i.sensitive ? ` · ${t('item.sensitive')}` : ''}
              </Tag>
            ))}
          </Descriptions.Item>
        </Descriptions>
      ) : null}
      <Card title={t('review.findings')} size="small">
        {findings.length === 0 ? (
          <Typography.Text data-testid="review-no-findings">{t('review.noFindings')}</Typography.Text>
        ) : (
          <List
            size="small"
            data-testid="review-findings"
            dataSource={[...findings]}
            renderItem={(f) => (
              <List.Item>
                <Tag color={f.severity === 'error' ? 'red' : 'orange'}>{t(`severity.${f.severity}`)}</Tag> {lang === 'zh-CN' ? f.messageZh : f.message} <Typography.Text type="secondary">({f.field})</Typography.Text>
              </List.Item>
            )}
          />
        )}
      </Card>
      {diff ? (
        <Card title={t('review.diff', { from: entry.published?.number ?? 0, to: v?.number ?? 0 })} size="small">
          <Table<FieldChange>
            data-testid="review-diff"
            size="small"
            rowKey={(c) => `${c.path}-${c.change}`}
            pagination={false}
            dataSource={[...diff]}
            columns={[
              { title: t('review.diffPath'), dataIndex: 'path' },
              { title: t('review.diffChange'), render: (_, c) => t(`review.change.${c.change}`) },
              { title: t('review.diffBefore'), render: (_, c) => show(c.before) },
              { title: t('review.diffAfter'), render: (_, c) => show(c.after) },
            ]}
          />
        </Card>
      ) : null}
      {v?.state === 'submitted' ? <Decision entry={entry} version={v} onDone={load} /> : null}
    </Space>
  );
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

interface DecisionForm {
  readonly decision: 'publish' | 'return';
  readonly comment?: string;
  readonly confirmLegalBasis?: boolean;
}

function Decision({ entry, version, onDone }: { readonly entry: Entry; readonly version: Version; readonly onDone: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<DecisionForm>();
  const decision = Form.useWatch('decision', form) ?? 'publish';
  const { busy, error, submit } = useSubmit<DecisionForm>(async (v) => {
    const comment = v.comment?.trim() || undefined;
    const expectedVersion = entry.version;
    if (v.decision === 'publish') await api('POST', `/catalog/entries/${entry.id}/publish?lang=${contentLanguage(lang)}`, { comment, expectedVersion, ...(version.shareType === 'none' ? { confirmLegalBasis: v.confirmLegalBasis === true } : {}) });
    else await api('POST', `/catalog/entries/${entry.id}/return?lang=${contentLanguage(lang)}`, { comment, expectedVersion });
    await onDone();
  });
  return (
    <Card title={t('review.decide')} size="small" data-testid="review-decide">
      <Form<DecisionForm> form={form} layout="vertical" initialValues={{ decision: 'publish' }} onFinish={(v) => void submit(v)} disabled={busy}>
        <Form.Item name="decision" label={t('review.decision')}>
          <Radio.Group options={[{ value: 'publish', label: t('review.publish') }, { value: 'return', label: t('review.return') }]} />
        </Form.Item>
        {decision === 'publish' && version.shareType === 'none' ? (
          <Form.Item name="confirmLegalBasis" valuePropName="checked" rules={[{ validator: (_, ok) => (ok ? Promise.resolve() : Promise.reject(new Error(t('review.confirmNeeded')))) }]}>
            <Checkbox>{t('review.confirmLegalBasis', { basis: `${version.legalBasis?.law ?? ''} ${version.legalBasis?.article ?? ''}` })}</Checkbox>
          </Form.Item>
        ) : null}
        <Form.Item name="comment" label={t(decision === 'return' ? 'review.returnComment' : 'review.comment')} rules={decision === 'return' ? [{ required: true, whitespace: true, message: t('requests.required') }] : []}>
          <Input.TextArea rows={2} data-testid="review-comment" />
        </Form.Item>
        {error ? <Alert type="error" showIcon role="alert" data-testid="review-error" title={errorMessage(lang, error)} style={{ marginBottom: 12 }} /> : null}
        <Button type="primary" danger={decision === 'return'} htmlType="submit" loading={busy} data-testid="review-submit">
          {t(decision === 'return' ? 'review.return' : 'review.publish')}
        </Button>
      </Form>
    </Card>
  );
}
