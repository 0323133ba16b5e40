#!/usr/bin/env python3
"""Writes the small ONNX seed models in tests/fuzz/corpus/onnx (no onnx package needed:
protobuf wire format by hand). Small seeds keep libFuzzer fast; lenet5.onnx covers the rest.
Usage: python3 tests/fuzz/gen_onnx_seeds.py tests/fuzz/corpus/onnx"""
import struct, sys, os
def varint(n):
    out=b''
    n &= (1<<64)-1
    while True:
        b=n&0x7f; n>>=7
        if n: out+=bytes([b|0x80])
        else: out+=bytes([b]); return out
def key(f,w): return varint(f<<3|w)
def vi(f,n): return key(f,0)+varint(n)
def ld(f,b):
    if isinstance(b,str): b=b.encode()
    return key(f,2)+varint(len(b))+b
def f32(f,x): return key(f,5)+struct.pack('<f',x)
def dim(v): return ld(1, vi(1,v) if isinstance(v,int) else ld(2,v))
def vinfo(name, et, shape):
    sh=b''.join(dim(d) for d in shape)
    return ld(1,name)+ld(2, ld(1, vi(1,et)+ld(2,sh)))
def tensor(name, et, dims, raw):
    return b''.join(vi(1,d) for d in dims)+vi(2,et)+ld(8,name)+ld(9,raw)
def attr_i(name,v): return ld(1,name)+vi(3,v)+vi(20,2)
def attr_ints(name,vs): return ld(1,name)+b''.join(vi(8,v) for v in vs)+vi(20,7)
def attr_f(name,v): return ld(1,name)+f32(2,v)+vi(20,1)
def node(op, ins, outs, name, attrs=()):
    return b''.join(ld(1,i) for i in ins)+b''.join(ld(2,o) for o in outs)+ld(3,name)+ld(4,op)+b''.join(ld(5,a) for a in attrs)
def model(nodes, inputs, outputs, inits=(), opset=13):
    g=b''.join(ld(1,n) for n in nodes)+ld(2,'g')+b''.join(ld(5,t) for t in inits)+b''.join(ld(11,i) for i in inputs)+b''.join(ld(12,o) for o in outputs)
    return vi(1,7)+ld(2,'gen')+ld(7,g)+ld(8, ld(1,'')+vi(2,opset))
F=1; I64=7
fl=lambda xs: struct.pack('<%df'%len(xs),*xs)
out=sys.argv[1]
ms={}
ms['relu']=model([node('Relu',['x'],['y'],'r')],[vinfo('x',F,['N',4])],[vinfo('y',F,['N',4])])
ms['add_init']=model([node('Add',['x','b'],['y'],'a')],[vinfo('x',F,['N',3])],[vinfo('y',F,['N',3])],[tensor('b',F,[3],fl([1,2,3]))])
ms['gemm']=model([node('Gemm',['x','W','B'],['y'],'fc',[attr_i('transB',1),attr_f('alpha',1.0)])],[vinfo('x',F,['N',2])],[vinfo('y',F,['N',3])],
  [tensor('W',F,[3,2],fl(range(6))),tensor('B',F,[3],fl([0,0,1]))])
ms['conv_pool']=model([node('Conv',['x','W'],['c'],'conv',[attr_ints('kernel_shape',[2,2]),attr_ints('pads',[0,0,0,0]),attr_ints('strides',[1,1])]),
  node('MaxPool',['c'],['p'],'pool',[attr_ints('kernel_shape',[2,2]),attr_ints('strides',[2,2])]),
  node('Flatten',['p'],['f'],'flat',[attr_i('axis',1)]),node('Softmax',['f'],['y'],'sm',[attr_i('axis',-1)])],
  [vinfo('x',F,['N',1,5,5])],[vinfo('y',F,['N',8])],[tensor('W',F,[2,1,2,2],fl([0.5]*8))])
ms['reshape']=model([node('Reshape',['x','s'],['r'],'rs'),node('Transpose',['r'],['t'],'tr',[attr_ints('perm',[0,2,1])]),
  node('ReduceMean',['t'],['y'],'rm',[attr_ints('axes',[1]),attr_i('keepdims',0)])],
  [vinfo('x',F,['N',6])],[vinfo('y',F,['N',3])],[tensor('s',I64,[3],struct.pack('<3q',-1,2,3))])
ms['concat_slice']=model([node('Concat',['x','x'],['c'],'cat',[attr_i('axis',1)]),node('Slice',['c','st','en','ax'],['s'],'sl'),
  node('Sigmoid',['s'],['y'],'sg')],[vinfo('x',F,['N',4])],[vinfo('y',F,['N',2])],
  [tensor('st',I64,[1],struct.pack('<q',1)),tensor('en',I64,[1],struct.pack('<q',3)),tensor('ax',I64,[1],struct.pack('<q',1))])
ms['bn_matmul']=model([node('BatchNormalization',['x','sc','bi','me','va'],['b'],'bn'),node('Flatten',['b'],['f'],'fl'),node('MatMul',['f','M'],['y'],'mm')],
  [vinfo('x',F,['N',2,1,1])],[vinfo('y',F,['N',2])],
  [tensor('sc',F,[2],fl([1,2])),tensor('bi',F,[2],fl([0,1])),tensor('me',F,[2],fl([0,0])),tensor('va',F,[2],fl([1,1])),tensor('M',F,[2,2],fl([1,0,0,1]))])
ms['constant_opset9']=model([node('Mul',['x','x'],['y'],'sq')],[vinfo('x',F,[1,2])],[vinfo('y',F,[1,2])],opset=9)
for k,v in ms.items():
    open(os.path.join(out,k+'.onnx'),'wb').write(v)
