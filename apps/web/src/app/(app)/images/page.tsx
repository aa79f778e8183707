import type { Metadata } from 'next';
import { ImagesView } from '../../../components/images/images-view.tsx';

export const metadata: Metadata = { title: 'Images' };

export default function ImagesPage() {
  return <ImagesView />;
}
