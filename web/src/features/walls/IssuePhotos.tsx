import { useEffect, useState } from 'react';
import { apiFetch } from '../../api.ts';
import { useI18n, type MessageKey } from '../../i18n.tsx';
import { PHOTO_TYPES, type Photo, type PhotoKind } from './issues.ts';

const KINDS: PhotoKind[] = ['report', 'answer'];

/** The pictures of the problem and of the work done, as thumbnails; an upload button for the kinds the caller may add. */
export function IssuePhotos({
  photos,
  addable,
  onAdd,
}: {
  photos: Photo[];
  addable: PhotoKind[];
  onAdd: (kind: PhotoKind, files: File[]) => void;
}) {
  const { t } = useI18n();
  return (
    <>
      {KINDS.map((kind) => {
        const shown = photos.filter((p) => p.kind === kind);
        if (shown.length === 0 && !addable.includes(kind)) return null;
        return (
          <section key={kind} className="photos" data-kind={kind}>
            <h4>{t(`photos.${kind}` as MessageKey)}</h4>
            <div className="thumbnails">
              {shown.map((photo) => (
                <Thumbnail key={photo.id} url={photo.url} />
              ))}
              {addable.includes(kind) && (
                <label className="add-photo" title={t('photos.add')}>
                  +<span>{t('photos.add')}</span>
                  <input
                    type="file"
                    accept={PHOTO_TYPES}
                    multiple
                    onChange={(e) => {
                      onAdd(kind, [...(e.target.files ?? [])]);
                      e.target.value = '';
                    }}
                  />
                </label>
              )}
            </div>
          </section>
        );
      })}
    </>
  );
}

/** A picture behind the bearer token: fetched, then shown from an object URL (a plain <img> sends no token). */
function Thumbnail({ url }: { url: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | undefined;
    let current = true;
    apiFetch(url)
      .then((r) => (r.ok ? r.blob() : null))
      .then(
        (blob) => {
          if (!blob || !current) return;
          objectUrl = URL.createObjectURL(blob);
          setSrc(objectUrl);
        },
        () => undefined,
      );
    return () => {
      current = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);
  return src ? (
    <a href={src} target="_blank" rel="noreferrer">
      <img src={src} alt="" />
    </a>
  ) : (
    <span className="thumbnail-loading" />
  );
}
