import { Alert, Button, Card, Checkbox, Form, Input, InputNumber, List, Radio, Select, Space, Spin, Tag, Typography } from 'antd';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, type Entry, type Version } from '../api';
import { errorMessage } from '../errors';
import { useI18n } from '../i18n/context';
import { contentLanguage } from '../i18n/i18n';
import { navigate } from '../router';
import { useSubmit } from '../use-submit';
import { contentOf, DATA_ITEM_FORMATS, DATA_TYPES, FORMAT_TYPES, formPathOf, hintsOf, SHARE_METHODS, SHARE_TYPES, UPDATE_CYCLES, valuesOf, type EntryFormValues } from './entry-form';

interface Finding {
  readonly rule: string;
  readonly field: string;
  readonly severity: string;
  readonly message: string;
  readonly messageZh: string;
}

type EditedVersion = Version & { readonly findings?: readonly Finding[] };
/** Field updates by path: the form's paths are built at run time (data item rows). */
type FieldUpdates = Parameters<ReturnType<typeof Form.useForm<EntryFormValues>>[0]['setFields']>[0];

/** Create or edit an entry's open version: inline hints while typing, the API's errors at their fields, save and submit for review. */
export function EntryEditorPage({ id }: { readonly id: string | null }) {
  const { t, lang } = useI18n();
  const [form] = Form.useForm<EntryFormValues>();
  const [entry, setEntry] = useState<Entry | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [saved, setSaved] = useState<'saved' | 'submitted' | null>(null);
  const hinted = useRef<string[]>([]);
  const shareType = Form.useWatch('shareType', form);
  const open = Form.useWatch(['openness', 'open'], form);

  const showHints = useCallback(() => {
    const hints = hintsOf(form.getFieldsValue(true) as EntryFormValues);
    const now = hints.map((h) => JSON.stringify(h.path));
    form.setFields([
      ...hinted.current.filter((p) => !now.includes(p)).map((p) => ({ name: JSON.parse(p) as (string | number)[], warnings: [] })),
      ...hints.map((h) => ({ name: [...h.path], warnings: [t(h.key, h.params)] })),
    ] as FieldUpdates);
    hinted.current = now;
  }, [form, t]);

  useEffect(() => {
    if (!id) return;
    let live = true;
    api<Entry>('GET', `/catalog/entries/${encodeURIComponent(id)}?lang=${contentLanguage(lang)}`)
      .then((e) => {
        if (!live) return;
        setEntry(e);
        const v = e.pending ?? e.published;
        if (v) form.setFieldsValue(valuesOf(v as Parameters<typeof valuesOf>[0]));
      })
      .catch((e: unknown) => live && setLoadError(e));
    return () => {
      live = false;
    };
    // Loaded once per entry: the language only changes labels here (the content is edited in its
    // own languages), and reloading would throw away what is being typed.
  }, [id, form]);

  const save = async (v: EntryFormValues): Promise<Entry> => {
    const content = contentOf(v);
    try {
      const e = entry
        ? await api<Entry>('PUT', `/catalog/entries/${entry.id}/draft?lang=${contentLanguage(lang)}`, { content, expectedVersion: entry.version })
        : await api<Entry>('POST', `/catalog/entries?lang=${contentLanguage(lang)}`, { content });
      setEntry(e);
      if (!id) navigate(`/authoring/entries/${e.id}/edit`, { replace: true });
      return e;
    } catch (err) {
      // The API's field errors go to their fields; the message stays above the buttons too.
      if (err instanceof ApiError && Array.isArray(err.body.details?.fields)) {
        const fields = err.body.details.fields as { field: string; message: string; messageZh?: string }[];
        form.setFields(fields.flatMap((f) => {
          const name = formPathOf(f.field);
          return name ? [{ name, errors: [lang === 'zh-CN' ? (f.messageZh ?? f.message) : f.message] }] : [];
        }) as FieldUpdates);
      }
      throw err;
    }
  };

  const saving = useSubmit<EntryFormValues>(async (v) => {
    setSaved(null);
    await save(v);
    setSaved('saved');
  });
  const submitting = useSubmit<EntryFormValues>(async (v) => {
    setSaved(null);
    const e = await save(v);
    const after = await api<Entry>('POST', `/catalog/entries/${e.id}/submit?lang=${contentLanguage(lang)}`, { expectedVersion: e.version });
    setEntry(after);
    setSaved('submitted');
  });
  const busy = saving.busy || submitting.busy;
  const error = saving.error ?? submitting.error;

  if (loadError) return <Alert type="error" showIcon role="alert" title={errorMessage(lang, loadError)} />;
  if (id && !entry) return <Spin />;
  const version = (entry?.pending ?? null) as EditedVersion | null;
  const findings = version?.findings ?? [];
  const state = version?.state;
  const locked = state === 'submitted';

  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%', maxWidth: 1100 }}>
      <Button onClick={() => navigate('/authoring')}>{t('authoring.backToList')}</Button>
      <Typography.Title level={2} data-testid="editor-title">
        {id ? t('authoring.editTitle') : t('authoring.newTitle')}
        {state ? <Tag style={{ marginLeft: 12 }} data-testid="editor-state">{t(`versionState.${state}`)}</Tag> : null}
      </Typography.Title>
      {entry?.published && !entry.pending ? <Alert type="info" showIcon title={t('authoring.newVersionHint')} /> : null}
      {state === 'returned' && version?.reviewed?.comment ? <Alert type="warning" showIcon title={t('authoring.returned', { comment: version.reviewed.comment })} data-testid="returned-comment" /> : null}
      {locked ? <Alert type="info" showIcon title={t('authoring.submittedHint')} /> : null}
      <Form<EntryFormValues>
        form={form}
        layout="vertical"
        disabled={busy || locked}
        onValuesChange={showHints}
        initialValues={{ shareType: 'conditional', shareMethods: ['table'], openness: { open: false }, updateCycle: 'daily', dataItems: [{ dataType: 'string' }] }}
        onFinish={(v) => void saving.submit(v)}
      >
        <Card title={t('authoring.section.basic')} size="small" style={{ marginBottom: 16 }}>
          <Space wrap align="start">
            <Form.Item name="nameZh" label={t('authoring.nameZh')} rules={[{ required: true, whitespace: true, message: t('authoring.hint.nameRequired') }, { max: 200 }]}>
              <Input style={{ width: 360 }} data-testid="editor-name" />
            </Form.Item>
            <Form.Item name="nameEn" label={t('authoring.nameEn')} rules={[{ max: 200 }]}>
              <Input style={{ width: 320 }} />
            </Form.Item>
          </Space>
          <Space wrap align="start">
            <Form.Item name={['classification', 'category']} label={t('authoring.category')}>
              <Select style={{ width: 180 }} allowClear options={['1', '2', '3'].map((c) => ({ value: c, label: t(`authoring.category.${c}`) }))} />
            </Form.Item>
            <Form.Item name={['classification', 'group']} label={t('authoring.group')} rules={[{ pattern: /^[0-9]{2}$/, message: t('authoring.hint.twoDigits') }]}>
              <Input style={{ width: 80 }} maxLength={2} />
            </Form.Item>
            <Form.Item name={['classification', 'subgroup']} label={t('authoring.subgroup')} rules={[{ pattern: /^[0-9]{3}$/, message: t('authoring.hint.threeDigits') }]}>
              <Input style={{ width: 90 }} maxLength={3} />
            </Form.Item>
            <Form.Item name={['format', 'type']} label={t('authoring.formatType')}>
              <Select style={{ width: 160 }} allowClear options={FORMAT_TYPES.map((f) => ({ value: f, label: t(`format.${f}`) }))} />
            </Form.Item>
            <Form.Item name={['format', 'subtype']} label={t('authoring.formatSubtype')} rules={[{ pattern: /^[a-z0-9][a-z0-9.+-]{0,31}$/, message: t('authoring.hint.subtype') }]}>
              <Input style={{ width: 120 }} placeholder="dm, xlsx" />
            </Form.Item>
          </Space>
          <Form.Item name="abstractZh" label={t('authoring.abstractZh')} rules={[{ max: 4000 }]}>
            <Input.TextArea rows={2} />
          </Form.Item>
          <Form.Item name="abstractEn" label={t('authoring.abstractEn')} rules={[{ max: 4000 }]}>
            <Input.TextArea rows={2} />
          </Form.Item>
        </Card>
        <Card title={t('authoring.section.items')} size="small" style={{ marginBottom: 16 }}>
          <Form.List name="dataItems">
            {(fields, { add, remove, move }) => (
              <Space orientation="vertical" style={{ width: '100%' }} data-testid="editor-items">
                {fields.map((f, n) => (
                  <DataItemRow key={f.key} name={f.name} index={n} count={fields.length} remove={() => { remove(f.name); showHints(); }} move={(to) => move(n, to)} />
                ))}
                <Button onClick={() => add({ dataType: 'string' })} data-testid="add-item">
                  {t('authoring.addItem')}
                </Button>
              </Space>
            )}
          </Form.List>
        </Card>
        <Card title={t('authoring.section.share')} size="small" style={{ marginBottom: 16 }}>
          <Form.Item name="shareType" label={t('entry.shareType')}>
            <Radio.Group options={SHARE_TYPES.map((s) => ({ value: s, label: t(`shareType.${s}`) }))} data-testid="editor-share-type" />
          </Form.Item>
          {shareType === 'conditional' ? (
            <Form.Item name="shareCondition" label={t('entry.shareCondition')} rules={[{ max: 2000 }]}>
              <Input.TextArea rows={2} data-testid="editor-condition" />
            </Form.Item>
          ) : null}
          {shareType === 'none' ? (
            <Space wrap align="start">
              <Form.Item name={['legalBasis', 'law']} label={t('authoring.law')} rules={[{ max: 200 }]}>
                <Input style={{ width: 360 }} />
              </Form.Item>
              <Form.Item name={['legalBasis', 'article']} label={t('authoring.article')} rules={[{ max: 200 }]}>
                <Input style={{ width: 200 }} />
              </Form.Item>
            </Space>
          ) : (
            <Form.Item name="shareMethods" label={t('entry.shareMethods')}>
              <Checkbox.Group options={SHARE_METHODS.map((m) => ({ value: m, label: t(`shareMethod.${m}`) }))} />
            </Form.Item>
          )}
          <Space wrap align="start">
            <Form.Item name={['openness', 'open']} label={t('entry.openness')}>
              <Radio.Group options={[{ value: false, label: t('entry.notOpen') }, { value: true, label: t('entry.open') }]} />
            </Form.Item>
            {open ? (
              <Form.Item name={['openness', 'condition']} label={t('authoring.openCondition')}>
                <Input style={{ width: 360 }} />
              </Form.Item>
            ) : null}
            <Form.Item name="updateCycle" label={t('entry.updateCycle')}>
              <Select style={{ width: 140 }} options={UPDATE_CYCLES.map((c) => ({ value: c, label: t(`updateCycle.${c}`) }))} />
            </Form.Item>
          </Space>
          <Form.Item name="relatedCodes" label={t('entry.relatedCodes')} extra={t('authoring.relatedHint')}>
            <Input />
          </Form.Item>
        </Card>
        {findings.length > 0 ? (
          <Card title={t('authoring.findings')} size="small" style={{ marginBottom: 16 }}>
            <List
              size="small"
              data-testid="editor-findings"
              dataSource={[...findings]}
              renderItem={(f) => (
                <List.Item>
                  <Tag color={f.severity === 'error' ? 'red' : 'orange'}>{t(`severity.${f.severity}`)}</Tag> {lang === 'zh-CN' ? f.messageZh : f.message}
                </List.Item>
              )}
            />
          </Card>
        ) : null}
        {error ? <Alert type="error" showIcon role="alert" data-testid="editor-error" title={errorMessage(lang, error)} style={{ marginBottom: 16 }} /> : null}
        {saved ? <Alert type="success" showIcon data-testid="editor-saved" title={t(saved === 'saved' ? 'authoring.saved' : 'authoring.submitted')} style={{ marginBottom: 16 }} /> : null}
        <Space>
          <Button htmlType="submit" loading={saving.busy} data-testid="editor-save">
            {t('authoring.saveDraft')}
          </Button>
          <Button type="primary" loading={submitting.busy} data-testid="editor-submit" onClick={() => form.validateFields().then((v) => submitting.submit(v), () => undefined)}>
            {t('authoring.submitForReview')}
          </Button>
        </Space>
      </Form>
    </Space>
  );
}

function DataItemRow({ name, index, count, remove, move }: { readonly name: number; readonly index: number; readonly count: number; readonly remove: () => void; readonly move: (to: number) => void }) {
  const { t } = useI18n();
  const form = Form.useFormInstance<EntryFormValues>();
  const type = Form.useWatch(['dataItems', name, 'dataType'], form) ?? 'string';
  return (
    <Space wrap align="start" data-testid="editor-item" style={{ borderBottom: '1px solid #f0f0f0', paddingBottom: 8 }}>
      <Form.Item name={[name, 'nameZh']} label={t('authoring.itemName', { n: index + 1 })} style={{ marginBottom: 0 }}>
        <Input style={{ width: 180 }} />
      </Form.Item>
      <Form.Item name={[name, 'nameEn']} label={t('authoring.itemNameEn')} style={{ marginBottom: 0 }}>
        <Input style={{ width: 150 }} />
      </Form.Item>
      <Form.Item name={[name, 'dataType']} label={t('item.dataType')} style={{ marginBottom: 0 }}>
        <Select style={{ width: 110 }} options={DATA_TYPES.map((d) => ({ value: d, label: t(`dataType.${d}`) }))} />
      </Form.Item>
      {type === 'string' ? (
        <Form.Item name={[name, 'length']} label={t('item.length')} style={{ marginBottom: 0 }}>
          <InputNumber min={1} max={65535} style={{ width: 90 }} />
        </Form.Item>
      ) : null}
      {type === 'decimal' ? (
        <>
          <Form.Item name={[name, 'precision']} label={t('authoring.precision')} style={{ marginBottom: 0 }}>
            <InputNumber min={1} max={38} style={{ width: 80 }} />
          </Form.Item>
          <Form.Item name={[name, 'scale']} label={t('authoring.scale')} style={{ marginBottom: 0 }}>
            <InputNumber min={0} max={38} style={{ width: 80 }} />
          </Form.Item>
        </>
      ) : null}
      <Form.Item name={[name, 'format']} label={t('authoring.itemFormat')} style={{ marginBottom: 0 }}>
        <Select style={{ width: 140 }} allowClear options={DATA_ITEM_FORMATS.map((f) => ({ value: f, label: t(`itemFormat.${f}`) }))} />
      </Form.Item>
      <Form.Item name={[name, 'key']} valuePropName="checked" label={t('item.key')} style={{ marginBottom: 0 }}>
        <Checkbox />
      </Form.Item>
      <Form.Item name={[name, 'sensitive']} valuePropName="checked" label={t('item.sensitive')} style={{ marginBottom: 0 }}>
        <Checkbox />
      </Form.Item>
      <Space style={{ marginTop: 30 }}>
        <Button size="small" disabled={index === 0} onClick={() => move(index - 1)} aria-label={t('authoring.moveUp')}>
          ↑
        </Button>
        <Button size="small" disabled={index === count - 1} onClick={() => move(index + 1)} aria-label={t('authoring.moveDown')}>
          ↓
        </Button>
        <Button size="small" danger onClick={remove} aria-label={t('authoring.removeItem', { n: index + 1 })}>
          {t('authoring.remove')}
        </Button>
      </Space>
    </Space>
  );
}
