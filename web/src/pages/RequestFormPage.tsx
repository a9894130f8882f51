import { Alert, Button, Checkbox, DatePicker, Form, Input, Select, Space, Spin, Typography, Upload } from 'antd';
import type { UploadFile } from 'antd';
import { useEffect, useState } from 'react';
import { api, upload, type Entry, type Me } from '../api';
import { GRANT_METHODS, type BusinessSystem, type ShareRequest } from '../api-requests';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage } from '../i18n/i18n';
import { navigate } from '../router';
import { useSubmit } from '../use-submit';
import { requestBody, type RequestFormValues } from './request-logic';

interface FormShape extends Omit<RequestFormValues, 'validUntil'> {
  readonly validUntil?: { format: (f: string) => string };
}

/** 申请共享: a share request for a published entry of another agency, filed for one of the requester's business systems. */
export function RequestFormPage({ me, entryId }: { readonly me: Me; readonly entryId: string }) {
  const { t, lang } = useI18n();
  const [entry, setEntry] = useState<Entry | null>(null);
  const [systems, setSystems] = useState<readonly BusinessSystem[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [agreement, setAgreement] = useState<UploadFile[]>([]);
  const [form] = Form.useForm<FormShape>();
  const picked: readonly string[] = Form.useWatch('items', form) ?? [];

  useEffect(() => {
    let live = true;
    const agency = me.user.agencyId ? `?agencyId=${me.user.agencyId}&status=active&limit=200` : '?status=active&limit=200';
    Promise.all([api<Entry>('GET', `/catalog/entries/${encodeURIComponent(entryId)}?lang=${contentLanguage(lang)}`), api<{ items: BusinessSystem[] }>('GET', `/systems${agency}`)])
      .then(([e, s]) => {
        if (!live) return;
        setEntry(e);
        setSystems(s.items);
      })
      .catch((e: unknown) => live && setLoadError(e));
    return () => {
      live = false;
    };
  }, [entryId, lang, me.user.agencyId]);

  const { busy, error, submit } = useSubmit<FormShape>(async (v) => {
    let agreementId: string | null = null;
    const file = agreement[0]?.originFileObj;
    if (file) agreementId = (await upload<{ id: string }>(`/attachments?fileName=${encodeURIComponent(file.name)}`, file)).id;
    const body = requestBody(entry?.resourceCode ?? entryId, { ...v, validUntil: v.validUntil?.format('YYYY-MM-DD') }, agreementId);
    const made = await api<ShareRequest>('POST', `/share-requests?lang=${contentLanguage(lang)}`, body);
    navigate(`/requests/${made.id}`);
  });

  if (loadError) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, loadError)} />;
  if (!entry || !systems) return <Spin />;
  const v = entry.published;
  if (!v) return <Alert type="warning" showIcon title={t('requests.notPublished')} />;
  const sensitive = new Set(v.dataItems.filter((i) => i.sensitive).map((i) => i.nameZh));
  const needsAgreement = picked.some((i) => sensitive.has(i));

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%', maxWidth: 900 }}>
      <Typography.Title level={2}>{t('requests.newTitle')}</Typography.Title>
      <Typography.Paragraph data-testid="request-resource">
        {t('requests.resource')}: <strong>{v.name}</strong>（{entry.resourceCode}）· {t('catalog.provider')}: {entry.provider.name}
      </Typography.Paragraph>
      {systems.length === 0 ? <Alert type="warning" showIcon title={t('requests.noSystems')} /> : null}
      <Form<FormShape> form={form} layout="vertical" onFinish={(x) => void submit(x)} initialValues={{ items: [], shareMethod: 'pull' }} disabled={busy}>
        <Form.Item name="systemId" label={t('requests.system')} rules={[{ required: true, message: t('requests.required') }]}>
          <Select options={systems.map((s) => ({ value: s.id, label: s.name }))} data-testid="request-system" />
        </Form.Item>
        <Form.Item name="items" label={t('requests.items')} rules={[{ required: true, type: 'array', min: 1, message: t('requests.pickItems') }]}>
          <Checkbox.Group data-testid="request-items">
            <Space wrap>
              {v.dataItems.map((i) => (
                <Checkbox key={i.nameZh} value={i.nameZh}>
                  {i.name}
                  {i.sensitive ? `（${t('requests.sensitive')}）` : ''}
                </Checkbox>
              ))}
            </Space>
          </Checkbox.Group>
        </Form.Item>
        <Form.Item name="business" label={t('requests.business')} rules={[{ required: true, whitespace: true, message: t('requests.required') }, { max: 2000 }]}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <Form.Item name="basis" label={t('requests.basis')} extra={t('requests.basisHint')} rules={[{ required: true, whitespace: true, message: t('requests.required') }, { max: 2000 }]}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <Form.Item name="dataUsers" label={t('requests.dataUsers')} rules={[{ required: true, whitespace: true, message: t('requests.required') }, { max: 2000 }]}>
          <Input />
        </Form.Item>
        <Space size="large" wrap>
          <Form.Item name="shareMethod" label={t('requests.method')} rules={[{ required: true }]}>
            <Select style={{ width: 200 }} options={GRANT_METHODS.map((m) => ({ value: m, label: t(`grantMethod.${m}`) }))} />
          </Form.Item>
          <Form.Item name="validUntil" label={t('requests.validUntil')} rules={[{ required: true, message: t('requests.required') }]}>
            <DatePicker data-testid="request-valid-until" />
          </Form.Item>
          <Form.Item name="frequency" label={t('requests.frequency')}>
            <Input style={{ width: 200 }} placeholder={t('requests.frequencyHint')} />
          </Form.Item>
        </Space>
        <Form.Item label={t('requests.agreement')} extra={needsAgreement ? t('requests.agreementNeeded') : t('requests.agreementHint')}>
          <div data-testid="request-agreement">
            <Upload beforeUpload={() => false} maxCount={1} fileList={agreement} onChange={({ fileList }) => setAgreement(fileList)}>
              <Button>{t('requests.chooseFile')}</Button>
            </Upload>
          </div>
        </Form.Item>
        {error ? <Alert type="error" showIcon role="alert" data-testid="request-error" title={errorMessage(lang, error)} style={{ marginBottom: 16 }} /> : null}
        <Space>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="request-submit">
            {t('requests.submit')}
          </Button>
          <Button onClick={() => window.history.back()}>{t('requests.cancel')}</Button>
        </Space>
      </Form>
    </Space>
  );
}
