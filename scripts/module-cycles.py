#!/usr/bin/env python3
"""Two-module cycles in gateway-core: module A names `crate::B` and B names
`crate::A`, outside comments and test modules (docs/architecture.md,
"Module dependencies").

    python3 scripts/module-cycles.py            # gateway-core/src
    python3 scripts/module-cycles.py DIR -v     # which files make each cycle
"""
import os,re,sys,itertools
args=[a for a in sys.argv[1:] if a!='-v']
root=args[0] if args else 'gateway-core/src'
verbose='-v' in sys.argv
mods={}; where={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); rel=os.path.relpath(p,root)
        top=rel.split(os.sep)[0]
        if top.endswith('.rs'): top=top[:-3]
        if top in ('lib','bin') or rel.endswith('tests.rs'): continue
        s=open(p).read()
        s=re.split(r'#\[cfg\(test\)\]\s*\n\s*(?:pub(?:\(crate\))? )?mod tests', s)[0]
        s='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
        for r in set(re.findall(r'crate::([a-z_]+)', s)):
            if r!=top:
                mods.setdefault(top,set()).add(r); where.setdefault((top,r),[]).append(rel)
cyc=[]
for a,b in itertools.combinations(sorted(mods),2):
    if b in mods.get(a,()) and a in mods.get(b,()):
        cyc.append(f"{a}<->{b}")
        if verbose: print(a,'->',b,where[(a,b)],'|',b,'->',a,where[(b,a)])
print(len(cyc), ' '.join(cyc))
