import { Alert, Button, Card, Checkbox, Descriptions, Form, Input, InputNumber, Radio, Select, Space, Spin, Tag, Timeline, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, type Me } from '../api';
import { MASK_KINDS, type HistoryEntry, type ShareRequest } from '../api-requests';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage, formatDate, formatDateTime } from '../i18n/i18n';
import { navigate } from '../router';
import { useSubmit } from '../use-submit';
import { actionsFor, chinaToday, deadlineState, termsOf, type RequestAction, type TermsFormValues } from './request-logic';

/** One share request: what was asked, where it stands, its history, and the steps the person may take now. */
export function RequestPage({ id, me }: { readonly id: string; readonly me: Me }) {
  const { t, lang } = useI18n();
  const [request, setRequest] = useState<ShareRequest | null>(null);
  const [history, setHistory] = useState<readonly HistoryEntry[]>([]);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    const l = contentLanguage(lang);
    const [r, h] = await Promise.all([api<ShareRequest>('GET', `/share-requests/${encodeURIComponent(id)}?lang=${l}`), api<{ items: HistoryEntry[] }>('GET', `/share-requests/${encodeURIComponent(id)}/history`)]);
    setRequest(r);
    setHistory(h.items);
  }, [id, lang]);

  useEffect(() => {
    load().catch((e: unknown) => setError(e));
  }, [load]);

  if (error) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, error)} />;
  if (!request) return <Spin />;
  const r = request;
  const state = deadlineState(r, chinaToday());
  const actions = actionsFor(r, me.permissions, me.user.agencyId);

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Button onClick={() => window.history.back()}>{t('entry.back')}</Button>
      <Typography.Title level={2} data-testid="request-title">
        {t('requests.detailTitle', { number: r.number })} · {r.resource.name}
      </Typography.Title>
      <Descriptions bordered size="small" column={2} data-testid="request-detail">
        <Descriptions.Item label={t('requests.status')}>
          <Tag data-testid="request-status">{t(`requestStatus.${r.status}`)}</Tag>
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.deadline')}>
          {r.deadline ? (
            <Space>
              {formatDate(lang, r.deadline.dueOn)}
              {state === 'overdue' ? <Tag color="red">{t('requests.overdue')}</Tag> : state === 'dueSoon' ? <Tag color="orange">{t('requests.dueSoon')}</Tag> : null}
            </Space>
          ) : (
            '—'
          )}
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.consumer')}>
          {r.consumer.name} · {r.system.name}
        </Descriptions.Item>
        <Descriptions.Item label={t('catalog.provider')}>{r.provider.name}</Descriptions.Item>
        <Descriptions.Item label={t('requests.items')} span={2}>
          {r.items.map((i) => (
            <Tag key={i} color={r.sensitiveItems.includes(i) ? 'gold' : undefined}>
              {i}
            </Tag>
          ))}
        </Descriptions.Item>
        <Descriptions.Item label={t('requests.business')}>{r.purpose.business}</Descriptions.Item>
        <Descriptions.Item label={t('requests.basis')}>{r.purpose.basis}</Descriptions.Item>
        <Descriptions.Item label={t('requests.dataUsers')}>{r.dataUsers}</Descriptions.Item>
        <Descriptions.Item label={t('requests.method')}>{t(`grantMethod.${r.shareMethod}`)}</Descriptions.Item>
        <Descriptions.Item label={t('requests.validUntil')}>{formatDate(lang, r.validUntil)}</Descriptions.Item>
        <Descriptions.Item label={t('requests.agreement')}>{r.attachments.length > 0 ? r.attachments.map((a) => a.fileName).join('、') : '—'}</Descriptions.Item>
        {r.infoRequest ? (
          <Descriptions.Item label={t('requests.question')} span={2}>
            {r.infoRequest.question}
          </Descriptions.Item>
        ) : null}
        {r.decision ? (
          <Descriptions.Item label={t('requests.decision')} span={2}>
            <span data-testid="request-decision">
              {t(`decision.${r.decision.kind}`)}
              {r.decision.comment ? `：${r.decision.comment}` : ''}
              {r.decision.legalBasis ? `（${t('requests.legalBasis')}：${r.decision.legalBasis.law} ${r.decision.legalBasis.article}）` : ''} — {r.decision.by}，{formatDateTime(lang, r.decision.at)}
            </span>
          </Descriptions.Item>
        ) : null}
        {r.dispute ? (
          <Descriptions.Item label={t('requests.dispute')} span={2}>
            {r.dispute.reason} — {r.dispute.by}，{formatDateTime(lang, r.dispute.at)}
          </Descriptions.Item>
        ) : null}
        {r.arbitration ? (
          <Descriptions.Item label={t('requests.arbitration')} span={2}>
            <span data-testid="request-arbitration">
              {t(`arbitration.${r.arbitration.outcome}`)}：{r.arbitration.comment} — {r.arbitration.by}
            </span>
          </Descriptions.Item>
        ) : null}
        {r.grantId ? (
          <Descriptions.Item label={t('requests.grant')} span={2}>
            <a
              href={`/grants/${r.grantId}`}
              data-testid="request-grant-link"
              onClick={(e) => {
                e.preventDefault();
                navigate(`/grants/${r.grantId}`);
              }}
            >
              {t('requests.viewGrant')}
            </a>
          </Descriptions.Item>
        ) : null}
      </Descriptions>
      {actions.length > 0 ? <RequestActions request={r} actions={actions} onDone={load} /> : null}
      <Card title={t('requests.history')} size="small">
        <Timeline
          data-testid="request-history"
          items={history.map((h) => ({
            key: `${h.at}-${h.action}`,
            content: (
              <span>
                {formatDateTime(lang, h.at)} · {h.actor} · {t(`requestAction.${h.action}`)}
                {h.statusTo ? ` → ${t(`requestStatus.${h.statusTo}`)}` : ''}
                {h.comment ? `：${h.comment}` : ''}
              </span>
            ),
          }))}
        />
      </Card>
    </Space>
  );
}

interface ActionForm extends TermsFormValues {
  readonly comment?: string;
  readonly reason?: string;
  readonly law?: string;
  readonly article?: string;
  readonly question?: string;
  readonly answer?: string;
  readonly outcome?: 'upheld' | 'overruled';
  readonly conforms?: boolean;
  readonly narrow?: boolean;
}

/** The steps open to the person, one form at a time; each is one API call with the version seen, so a step on a stale page is refused. */
function RequestActions({ request: r, actions, onDone }: { readonly request: ShareRequest; readonly actions: readonly RequestAction[]; readonly onDone: () => Promise<void> }) {
  const { t, lang } = useI18n();
  const [action, setAction] = useState<RequestAction>(actions[0]!);
  const [form] = Form.useForm<ActionForm>();
  const narrow = Form.useWatch('narrow', form) ?? false;
  const outcome = Form.useWatch('outcome', form);
  const items: readonly string[] = Form.useWatch('items', form) ?? r.items;
  useEffect(() => {
    if (!actions.includes(action)) setAction(actions[0]!);
  }, [actions, action]);

  const { busy, error, submit } = useSubmit<ActionForm>(async (v) => {
    const path = { approve: 'approve', askInfo: 'ask-info', refuse: 'refuse', reply: 'reply', withdraw: 'withdraw', dispute: 'dispute', arbitrate: 'arbitrate', conformance: 'conformance' }[action];
    const expectedVersion = r.version;
    const comment = v.comment?.trim() || undefined;
    const body: Record<string, unknown> =
      action === 'approve'
        ? { terms: v.narrow ? termsOf(r.items, v) : undefined, comment, expectedVersion }
        : action === 'refuse'
          ? { reason: v.reason, legalBasis: { law: v.law, article: v.article }, expectedVersion }
          : action === 'askInfo'
            ? { question: v.question, expectedVersion }
            : action === 'reply'
              ? { answer: v.answer, expectedVersion }
              : action === 'arbitrate'
                ? { outcome: v.outcome, comment: v.comment, terms: v.outcome === 'overruled' ? termsOf(r.items, v) : undefined, expectedVersion }
                : action === 'conformance'
                  ? { conforms: v.conforms ?? true, comment, expectedVersion }
                  : { reason: v.reason, expectedVersion };
    await api('POST', `/share-requests/${r.id}/${path}?lang=${contentLanguage(lang)}`, body);
    form.resetFields();
    await onDone();
  });

  const required = [{ required: true, whitespace: true, message: t('requests.required') }];
  const termsFields = (
    <>
      <Form.Item name="items" label={t('requests.grantItems')} initialValue={[...r.items]} rules={[{ required: true, type: 'array', min: 1, message: t('requests.pickItems') }]}>
        <Checkbox.Group data-testid="terms-items" options={r.items.map((i) => ({ value: i, label: i }))} />
      </Form.Item>
      <Space wrap align="start">
        {items.map((i) => (
          <Form.Item key={i} name={['masking', i]} label={t('requests.maskingOf', { item: i })} initialValue="none">
            <Select style={{ width: 160 }} data-testid={`mask-${i}`} options={[{ value: 'none', label: t('mask.none') }, ...MASK_KINDS.map((k) => ({ value: k, label: t(`mask.${k}`) }))]} />
          </Form.Item>
        ))}
      </Space>
      <Space wrap align="start">
        <Form.Item name="rowFilterItem" label={t('requests.rowFilter')}>
          <Select allowClear style={{ width: 200 }} options={items.map((i) => ({ value: i, label: i }))} placeholder={t('requests.rowFilterItem')} />
        </Form.Item>
        <Form.Item name="rowFilterOp" label={t('requests.rowFilterOp')} initialValue="eq">
          <Select style={{ width: 140 }} options={(['eq', 'in', 'prefix'] as const).map((o) => ({ value: o, label: t(`rowOp.${o}`) }))} />
        </Form.Item>
        <Form.Item name="rowFilterValues" label={t('requests.rowFilterValues')} extra={t('requests.rowFilterHint')}>
          <Input style={{ width: 240 }} />
        </Form.Item>
        <Form.Item name="ratePerMinute" label={t('requests.ratePerMinute')}>
          <InputNumber min={1} max={1_000_000} />
        </Form.Item>
      </Space>
      <Form.Item name="conditions" label={t('requests.conditions')} rules={[{ max: 4000 }]}>
        <Input.TextArea rows={2} />
      </Form.Item>
    </>
  );

  return (
    <Card title={t('requests.actions')} size="small" data-testid="request-actions">
      <Space orientation="vertical" style={{ width: '100%' }}>
        <Radio.Group value={action} onChange={(e) => setAction(e.target.value as RequestAction)} optionType="button" aria-label={t('requests.actions')} options={actions.map((a) => ({ value: a, label: t(`requests.action.${a}`) }))} />
        <Form<ActionForm> key={action} form={form} layout="vertical" onFinish={(v) => void submit(v)} disabled={busy}>
          {action === 'approve' ? (
            <>
              <Form.Item name="narrow" valuePropName="checked" initialValue={false}>
                <Checkbox data-testid="approve-narrow">{t('requests.narrow')}</Checkbox>
              </Form.Item>
              {narrow ? termsFields : null}
              <Form.Item name="comment" label={t('requests.comment')}>
                <Input.TextArea rows={2} />
              </Form.Item>
            </>
          ) : null}
          {action === 'refuse' ? (
            <>
              <Form.Item name="reason" label={t('requests.refuseReason')} rules={required}>
                <Input.TextArea rows={2} />
              </Form.Item>
              <Space wrap>
                <Form.Item name="law" label={t('requests.law')} rules={required} extra={t('requests.lawHint')}>
                  <Input style={{ width: 360 }} />
                </Form.Item>
                <Form.Item name="article" label={t('requests.article')} rules={required}>
                  <Input style={{ width: 200 }} />
                </Form.Item>
              </Space>
            </>
          ) : null}
          {action === 'askInfo' ? (
            <Form.Item name="question" label={t('requests.question')} rules={required}>
              <Input.TextArea rows={2} />
            </Form.Item>
          ) : null}
          {action === 'reply' ? (
            <Form.Item name="answer" label={t('requests.answer')} rules={required}>
              <Input.TextArea rows={2} />
            </Form.Item>
          ) : null}
          {action === 'withdraw' || action === 'dispute' ? (
            <Form.Item name="reason" label={t(action === 'dispute' ? 'requests.disputeReason' : 'requests.withdrawReason')} rules={required}>
              <Input.TextArea rows={2} />
            </Form.Item>
          ) : null}
          {action === 'conformance' ? (
            <>
              <Form.Item name="conforms" label={t('requests.conforms')} initialValue={true}>
                <Radio.Group options={[{ value: true, label: t('requests.conformsYes') }, { value: false, label: t('requests.conformsNo') }]} />
              </Form.Item>
              <Form.Item name="comment" label={t('requests.comment')}>
                <Input.TextArea rows={2} />
              </Form.Item>
            </>
          ) : null}
          {action === 'arbitrate' ? (
            <>
              <Form.Item name="outcome" label={t('requests.outcome')} rules={[{ required: true, message: t('requests.required') }]}>
                <Radio.Group data-testid="arbitrate-outcome" options={(['upheld', 'overruled'] as const).map((o) => ({ value: o, label: t(`arbitration.${o}`) }))} />
              </Form.Item>
              {outcome === 'overruled' ? termsFields : null}
              <Form.Item name="comment" label={t('requests.arbitrationComment')} rules={required}>
                <Input.TextArea rows={2} />
              </Form.Item>
            </>
          ) : null}
          {error ? <Alert type="error" showIcon role="alert" data-testid="action-error" title={errorMessage(lang, error)} style={{ marginBottom: 16 }} /> : null}
          <Button type="primary" htmlType="submit" loading={busy} data-testid="action-submit">
            {t(`requests.action.${action}`)}
          </Button>
        </Form>
      </Space>
    </Card>
  );
}
