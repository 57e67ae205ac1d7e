"""Timing of one train_step of simple-faster-rcnn-pytorch's algorithm (re-typed, not the repo), torch 1.13 CPU.

Same structure as the reference: decom_vgg16 (features[:30], first 10 layers frozen, classifier without dropout),
RPN with numpy ProposalCreator / AnchorTargetCreator / ProposalTargetCreator (torchvision nms, RoIPool),
the four losses, SGD momentum 0.9 with per-parameter groups. Random torchvision init, demo.jpg at 600x800,
three fixed gt boxes (the same as `frcnn bench --what train`).
"""
import sys, time, statistics
import numpy as np
import torch, torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.ops import nms, RoIPool
from PIL import Image

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0); np.random.seed(0)

def loc2bbox(src_bbox, loc):
    if src_bbox.shape[0] == 0: return np.zeros((0, 4), dtype=loc.dtype)
    src_bbox = src_bbox.astype(src_bbox.dtype, copy=False)
    h = src_bbox[:, 2] - src_bbox[:, 0]; w = src_bbox[:, 3] - src_bbox[:, 1]
    cy = src_bbox[:, 0] + 0.5 * h; cx = src_bbox[:, 1] + 0.5 * w
    dy, dx, dh, dw = loc[:, 0::4], loc[:, 1::4], loc[:, 2::4], loc[:, 3::4]
    ctr_y = dy * h[:, None] + cy[:, None]; ctr_x = dx * w[:, None] + cx[:, None]
    hh = np.exp(dh) * h[:, None]; ww = np.exp(dw) * w[:, None]
    d = np.zeros(loc.shape, dtype=loc.dtype)
    d[:, 0::4] = ctr_y - 0.5 * hh; d[:, 1::4] = ctr_x - 0.5 * ww
    d[:, 2::4] = ctr_y + 0.5 * hh; d[:, 3::4] = ctr_x + 0.5 * ww
    return d

def bbox2loc(src_bbox, dst_bbox):
    h = src_bbox[:, 2] - src_bbox[:, 0]; w = src_bbox[:, 3] - src_bbox[:, 1]
    cy = src_bbox[:, 0] + 0.5 * h; cx = src_bbox[:, 1] + 0.5 * w
    bh = dst_bbox[:, 2] - dst_bbox[:, 0]; bw = dst_bbox[:, 3] - dst_bbox[:, 1]
    by = dst_bbox[:, 0] + 0.5 * bh; bx = dst_bbox[:, 1] + 0.5 * bw
    eps = np.finfo(h.dtype).eps
    h = np.maximum(h, eps); w = np.maximum(w, eps)
    return np.vstack(((by - cy) / h, (bx - cx) / w, np.log(bh / h), np.log(bw / w))).transpose()

def bbox_iou(a, b):
    tl = np.maximum(a[:, None, :2], b[:, :2]); br = np.minimum(a[:, None, 2:], b[:, 2:])
    area_i = np.prod(br - tl, axis=2) * (tl < br).all(axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1); area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return area_i / (area_a[:, None] + area_b - area_i)

def generate_anchor_base(base_size=16, ratios=(0.5, 1, 2), anchor_scales=(8, 16, 32)):
    py = px = base_size / 2.
    ab = np.zeros((len(ratios) * len(anchor_scales), 4), dtype=np.float32)
    for i in range(len(ratios)):
        for j in range(len(anchor_scales)):
            h = base_size * anchor_scales[j] * np.sqrt(ratios[i]); w = base_size * anchor_scales[j] * np.sqrt(1. / ratios[i])
            k = i * len(anchor_scales) + j
            ab[k] = (py - h / 2., px - w / 2., py + h / 2., px + w / 2.)
    return ab

def enumerate_shifted_anchor(ab, feat_stride, height, width):
    sy = np.arange(0, height * feat_stride, feat_stride); sx = np.arange(0, width * feat_stride, feat_stride)
    sx, sy = np.meshgrid(sx, sy)
    shift = np.stack((sy.ravel(), sx.ravel(), sy.ravel(), sx.ravel()), axis=1)
    A = ab.shape[0]; K = shift.shape[0]
    return (ab.reshape((1, A, 4)) + shift.reshape((1, K, 4)).transpose((1, 0, 2))).reshape((K * A, 4)).astype(np.float32)

class ProposalCreator:
    def __init__(self, nms_thresh=0.7, n_train_pre_nms=12000, n_train_post_nms=2000, min_size=16):
        self.nms_thresh, self.pre, self.post, self.min_size = nms_thresh, n_train_pre_nms, n_train_post_nms, min_size
    def __call__(self, loc, score, anchor, img_size, scale=1.):
        roi = loc2bbox(anchor, loc)
        roi[:, slice(0, 4, 2)] = np.clip(roi[:, slice(0, 4, 2)], 0, img_size[0])
        roi[:, slice(1, 4, 2)] = np.clip(roi[:, slice(1, 4, 2)], 0, img_size[1])
        min_size = self.min_size * scale
        hs = roi[:, 2] - roi[:, 0]; ws = roi[:, 3] - roi[:, 1]
        keep = np.where((hs >= min_size) & (ws >= min_size))[0]
        roi = roi[keep, :]; score = score[keep]
        order = score.ravel().argsort()[::-1][:self.pre]
        roi = roi[order, :]; score = score[order]
        keep = nms(torch.from_numpy(roi), torch.from_numpy(score), self.nms_thresh)
        keep = keep[:self.post]
        return roi[keep.cpu().numpy()]

class RegionProposalNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.anchor_base = generate_anchor_base(); self.feat_stride = 16
        self.proposal_layer = ProposalCreator()
        self.conv1 = nn.Conv2d(512, 512, 3, 1, 1); self.score = nn.Conv2d(512, 18, 1); self.loc = nn.Conv2d(512, 36, 1)
        for m in (self.conv1, self.score, self.loc): m.weight.data.normal_(0, 0.01); m.bias.data.zero_()
    def forward(self, x, img_size, scale=1.):
        n, _, hh, ww = x.shape
        anchor = enumerate_shifted_anchor(np.array(self.anchor_base), self.feat_stride, hh, ww)
        n_anchor = anchor.shape[0] // (hh * ww)
        h = F.relu(self.conv1(x))
        rpn_locs = self.loc(h).permute(0, 2, 3, 1).contiguous().view(n, -1, 4)
        rpn_scores = self.score(h).permute(0, 2, 3, 1).contiguous()
        rpn_softmax_scores = F.softmax(rpn_scores.view(n, hh, ww, n_anchor, 2), dim=4)
        rpn_fg_scores = rpn_softmax_scores[:, :, :, :, 1].contiguous().view(n, -1)
        rpn_scores = rpn_scores.view(n, -1, 2)
        rois = [self.proposal_layer(rpn_locs[i].cpu().data.numpy(), rpn_fg_scores[i].cpu().data.numpy(), anchor, img_size, scale=scale) for i in range(n)]
        return rpn_locs, rpn_scores, np.concatenate(rois, axis=0), np.zeros(len(rois[0]), dtype=np.int32), anchor

class VGG16RoIHead(nn.Module):
    def __init__(self, n_class, classifier):
        super().__init__()
        self.classifier = classifier
        self.cls_loc = nn.Linear(4096, n_class * 4); self.score = nn.Linear(4096, n_class)
        self.cls_loc.weight.data.normal_(0, 0.001); self.cls_loc.bias.data.zero_()
        self.score.weight.data.normal_(0, 0.01); self.score.bias.data.zero_()
        self.roi = RoIPool((7, 7), 1. / 16)
    def forward(self, x, rois, roi_indices):
        roi_indices = torch.from_numpy(roi_indices).float(); rois = torch.from_numpy(rois).float()
        indices_and_rois = torch.cat([roi_indices[:, None], rois], dim=1)
        xy_indices_and_rois = indices_and_rois[:, [0, 2, 1, 4, 3]].contiguous()
        pool = self.roi(x, xy_indices_and_rois).view(len(rois), -1)
        fc7 = self.classifier(pool)
        return self.cls_loc(fc7), self.score(fc7)

def decom_vgg16():
    model = torchvision.models.vgg16()
    features = list(model.features)[:30]
    classifier = list(model.classifier)
    del classifier[6]; del classifier[5]; del classifier[2]
    for layer in features[:10]:
        for p in layer.parameters(): p.requires_grad = False
    return nn.Sequential(*features), nn.Sequential(*classifier)

class AnchorTargetCreator:
    def __init__(self, n_sample=256, pos_iou_thresh=0.7, neg_iou_thresh=0.3, pos_ratio=0.5):
        self.n_sample, self.pos, self.neg, self.ratio = n_sample, pos_iou_thresh, neg_iou_thresh, pos_ratio
    def __call__(self, bbox, anchor, img_size):
        H, W = img_size; n_anchor = len(anchor)
        inside = np.where((anchor[:, 0] >= 0) & (anchor[:, 1] >= 0) & (anchor[:, 2] <= H) & (anchor[:, 3] <= W))[0]
        anchor = anchor[inside]
        label = np.empty((len(inside),), dtype=np.int32); label.fill(-1)
        ious = bbox_iou(anchor, bbox)
        argmax_ious = ious.argmax(axis=1); max_ious = ious[np.arange(len(inside)), argmax_ious]
        gt_argmax_ious = ious.argmax(axis=0); gt_max_ious = ious[gt_argmax_ious, np.arange(ious.shape[1])]
        gt_argmax_ious = np.where(ious == gt_max_ious)[0]
        label[max_ious < self.neg] = 0; label[gt_argmax_ious] = 1; label[max_ious >= self.pos] = 1
        n_pos = int(self.ratio * self.n_sample)
        pos_index = np.where(label == 1)[0]
        if len(pos_index) > n_pos: label[np.random.choice(pos_index, size=(len(pos_index) - n_pos), replace=False)] = -1
        n_neg = self.n_sample - np.sum(label == 1)
        neg_index = np.where(label == 0)[0]
        if len(neg_index) > n_neg: label[np.random.choice(neg_index, size=(len(neg_index) - n_neg), replace=False)] = -1
        loc = bbox2loc(anchor, bbox[argmax_ious])
        def unmap(data, count, index, fill=0):
            if len(data.shape) == 1:
                ret = np.empty((count,), dtype=data.dtype); ret.fill(fill); ret[index] = data
            else:
                ret = np.empty((count,) + data.shape[1:], dtype=data.dtype); ret.fill(fill); ret[index, :] = data
            return ret
        return unmap(loc, n_anchor, inside, fill=0), unmap(label, n_anchor, inside, fill=-1)

class ProposalTargetCreator:
    def __call__(self, roi, bbox, label, loc_normalize_mean=(0., 0., 0., 0.), loc_normalize_std=(0.1, 0.1, 0.2, 0.2)):
        n_sample, pos_ratio = 128, 0.25
        roi = np.concatenate((roi, bbox), axis=0)
        pos_roi_per_image = np.round(n_sample * pos_ratio)
        iou = bbox_iou(roi, bbox)
        gt_assignment = iou.argmax(axis=1); max_iou = iou.max(axis=1)
        gt_roi_label = label[gt_assignment] + 1
        pos_index = np.where(max_iou >= 0.5)[0]
        n_pos = int(min(pos_roi_per_image, pos_index.size))
        if pos_index.size > 0: pos_index = np.random.choice(pos_index, size=n_pos, replace=False)
        neg_index = np.where((max_iou < 0.5) & (max_iou >= 0.0))[0]
        n_neg = int(min(n_sample - n_pos, neg_index.size))
        if neg_index.size > 0: neg_index = np.random.choice(neg_index, size=n_neg, replace=False)
        keep = np.append(pos_index, neg_index)
        gt_roi_label = gt_roi_label[keep]; gt_roi_label[n_pos:] = 0
        sample_roi = roi[keep]
        gt_roi_loc = bbox2loc(sample_roi, bbox[gt_assignment[keep]])
        gt_roi_loc = ((gt_roi_loc - np.array(loc_normalize_mean, np.float32)) / np.array(loc_normalize_std, np.float32))
        return sample_roi, gt_roi_loc, gt_roi_label

def _smooth_l1_loss(x, t, in_weight, sigma):
    sigma2 = sigma ** 2
    diff = in_weight * (x - t); abs_diff = diff.abs()
    flag = (abs_diff.data < (1. / sigma2)).float()
    y = (flag * (sigma2 / 2.) * (diff ** 2) + (1 - flag) * (abs_diff - 0.5 / sigma2))
    return y.sum()

def _fast_rcnn_loc_loss(pred_loc, gt_loc, gt_label, sigma):
    in_weight = torch.zeros(gt_loc.shape)
    in_weight[(gt_label > 0).view(-1, 1).expand_as(in_weight)] = 1
    loc_loss = _smooth_l1_loss(pred_loc, gt_loc, in_weight.detach(), sigma)
    return loc_loss / ((gt_label >= 0).sum().float())

extractor, classifier = decom_vgg16()
rpn = RegionProposalNetwork(); head = VGG16RoIHead(21, classifier)
model = nn.ModuleList([extractor, rpn, head])
params = []
for key, value in dict(model.named_parameters()).items():
    if value.requires_grad:
        if 'bias' in key: params += [{'params': [value], 'lr': 1e-3 * 2, 'weight_decay': 0}]
        else: params += [{'params': [value], 'lr': 1e-3, 'weight_decay': 5e-4}]
optimizer = torch.optim.SGD(params, momentum=0.9)
atc, ptc = AnchorTargetCreator(), ProposalTargetCreator()

img = np.asarray(Image.open(sys.argv[2] if len(sys.argv) > 2 else '/work/shared/golden/demo.jpg').convert('RGB'), dtype=np.float32).transpose((2, 0, 1))
C, H, W = img.shape
scale = min(600 / min(H, W), 1000 / max(H, W))
img = F.interpolate(torch.from_numpy(img / 255.)[None].float(), size=(int(H * scale), int(W * scale)), mode='bilinear', align_corners=False)[0].numpy()  # preprocessing only; the reference uses skimage
img = torchvision.transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(torch.from_numpy(img)).numpy()
imgs = torch.from_numpy(img).float()[None]
h, w = imgs.shape[2:]
scale = h / H
bboxes = torch.tensor([[[0.10*h, 0.10*w, 0.60*h, 0.45*w], [0.30*h, 0.50*w, 0.90*h, 0.95*w], [0.05*h, 0.60*w, 0.35*h, 0.80*w]]], dtype=torch.float32)
labels = torch.tensor([[11, 14, 6]])

def train_step():
    optimizer.zero_grad()
    img_size = (h, w)
    features = extractor(imgs)
    rpn_locs, rpn_scores, rois, roi_indices, anchor = rpn(features, img_size, scale)
    bbox, label, rpn_score, rpn_loc, roi = bboxes[0], labels[0], rpn_scores[0], rpn_locs[0], rois
    sample_roi, gt_roi_loc, gt_roi_label = ptc(roi, bbox.numpy(), label.numpy())
    sample_roi_index = torch.zeros(len(sample_roi))
    roi_cls_loc, roi_score = head(features, sample_roi, sample_roi_index.numpy().astype(np.int32))
    gt_rpn_loc, gt_rpn_label = atc(bbox.numpy(), anchor, img_size)
    gt_rpn_label = torch.from_numpy(gt_rpn_label).long(); gt_rpn_loc = torch.from_numpy(gt_rpn_loc)
    rpn_loc_loss = _fast_rcnn_loc_loss(rpn_loc, gt_rpn_loc, gt_rpn_label.data, 3.)
    rpn_cls_loss = F.cross_entropy(rpn_score, gt_rpn_label, ignore_index=-1)
    n_sample = roi_cls_loc.shape[0]
    roi_cls_loc = roi_cls_loc.view(n_sample, -1, 4)
    roi_loc = roi_cls_loc[torch.arange(0, n_sample).long(), torch.from_numpy(gt_roi_label).long()]
    gt_roi_label = torch.from_numpy(gt_roi_label).long(); gt_roi_loc = torch.from_numpy(gt_roi_loc)
    roi_loc_loss = _fast_rcnn_loc_loss(roi_loc.contiguous(), gt_roi_loc, gt_roi_label.data, 1.)
    roi_cls_loss = nn.CrossEntropyLoss()(roi_score, gt_roi_label)
    total = rpn_loc_loss + rpn_cls_loss + roi_loc_loss + roi_cls_loss
    total.backward()
    optimizer.step()
    return total.item()

reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
times = []
for i in range(reps + 1):
    t0 = time.perf_counter(); loss = train_step(); dt = (time.perf_counter() - t0) * 1000
    print(f"step {i} {dt:.0f} ms loss {loss:.4f}", flush=True)
    if i >= 1: times.append(dt)
print(f"torch {torch.__version__} threads {torch.get_num_threads()} input {tuple(imgs.shape)} train_step_ms median {statistics.median(times):.0f} min {min(times):.0f}")
